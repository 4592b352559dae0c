"""Test-wide setup: the helper modules beside the tests import by name; the browser fixture."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from report_browser import browser

__all__ = ["browser"]
