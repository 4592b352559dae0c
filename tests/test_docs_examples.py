"""The docs' examples run: every ```python block of each page that opts in.

A page opts in with front matter (which mkdocs does not show)::

    ---
    examples: run       # or: server
    ---

Its ```python blocks then run in order, in one namespace (a later block uses what an
earlier one made), in a fresh directory where ``datasets/`` is the repository's (so the
examples' relative paths work and anything they write stays out of the tree), with
warnings as errors (an example calling a deprecated name fails). ``examples: server``
starts a zone-opt server first, as ``make run`` does (the sample region preloaded for the
demo tenant, the demo token in ``.zone-opt-data/demo-token``), on a free port given in
``ZONE_OPT_ADDRESS``. Blocks fenced as anything but ``python`` (``bash``, ``text``, ``py``)
are not run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from zone_opt.service.server import ServerSettings, create_server

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def _pages() -> list[tuple[Path, str]]:
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        match = FRONT_MATTER.match(page.read_text(encoding="utf-8"))
        meta = yaml.safe_load(match.group(1)) if match else None
        if isinstance(meta, dict) and meta.get("examples") in ("run", "server"):
            found.append((page, str(meta["examples"])))
    return found


def blocks(page: Path) -> list[tuple[int, str]]:
    """``(line number, code)`` of each ```python block of ``page``."""
    text = page.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in BLOCK.finditer(text)]


PAGES = _pages()


def test_the_guides_and_getting_started_pages_have_examples() -> None:
    """Every capability's guide and each getting-started page with Python opts in."""
    opted = {str(p.relative_to(DOCS)) for p, _ in PAGES}
    for name in ("matching", "join", "carbon", "facilities", "dispatch"):
        assert f"guides/{name}.md" in opted
    assert {"getting-started/platform-backend.md", "getting-started/regional-planner.md"} <= opted
    for page, _ in PAGES:
        assert blocks(page), f"{page} opts in but has no ```python block"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "datasets").symlink_to(ROOT / "datasets")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def zone_opt_server(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    server, port = create_server(
        ServerSettings(data_dir=workdir / ".zone-opt-data", port=0, grace_s=1.0)
    )
    server.start()
    monkeypatch.setenv("ZONE_OPT_ADDRESS", f"127.0.0.1:{port}")
    monkeypatch.delenv("ZONE_OPT_TOKEN", raising=False)
    try:
        yield
    finally:
        server.stop(0.5)


@pytest.mark.parametrize(("page", "kind"), PAGES, ids=[str(p.relative_to(DOCS)) for p, _ in PAGES])
def test_the_examples_of_a_page_run(
    page: Path, kind: str, workdir: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "server":
        request.getfixturevalue("zone_opt_server")
    namespace: dict[str, object] = {"__name__": f"docs_example_{page.stem}"}
    began = time.perf_counter()
    for line, code in blocks(page):
        # Padded so that a traceback names the line of the page.
        compiled = compile("\n" * (line - 1) + code, str(page.relative_to(ROOT)), "exec")
        exec(compiled, namespace)  # the page's own code, as a reader would run it
    print(f"{page.relative_to(DOCS)}: {time.perf_counter() - began:.2f} s")
