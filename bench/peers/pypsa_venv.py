"""Importable only when the PyPSA venv exists (``make bench-pypsa-venv``): the harness's
``requires`` check for the PyPSA contender."""

from pathlib import Path

PYTHON = Path(__file__).resolve().parents[2] / ".venv-pypsa" / "bin" / "python"
if not PYTHON.is_file():
    raise ImportError(f"no PyPSA venv at {PYTHON}; run `make bench-pypsa-venv`")
