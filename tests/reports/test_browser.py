"""Every HTML report made from the bundled data opens in Chromium without a console error.

The four report commands run as a user runs them (``python -m zone_opt ...``) on the data
in ``datasets/``: matching on the sample region, shared facilities on the example scenario,
a week and six weeks of SIP-PARK-1 dispatch, carbon allocation of the demo park with its
tenants' names, each in English, and matching and carbon again in Chinese. Every ``.html``
they write (the carbon tenant pages included) is opened offline; each must draw all its
charts with no console error and no request off the machine. Screenshots are kept under
``SCREENSHOTS/all/``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from report_browser import SCREENSHOTS, open_report

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "datasets"

SAMPLE = [
    f"--{table}={DATA / 'sample' / f'{table}.parquet'}"
    for table in ("spaces", "enterprises", "parks", "tenancies")
]
CARBON = [
    f"--meters={DATA / 'carbon_demo' / 'meters.parquet'}",
    f"--park={DATA / 'carbon_demo' / 'park.yaml'}",
    f"--enterprises={DATA / 'sample' / 'enterprises.parquet'}",
]
SIP = DATA / "sip_park_1"

#: report folder -> the command that writes it (arguments after ``zone-opt``)
COMMANDS: dict[str, list[str]] = {
    "matching": ["match", *SAMPLE],
    "matching-zh": ["match", *SAMPLE, "--lang", "zh"],
    "facilities": [
        "facilities",
        str(DATA / "facilities" / "example_scenario.yaml"),
        "--no-progress",
    ],
    "dispatch-week": [
        "dispatch",
        str(SIP / "milp.yaml"),
        "--start",
        "2025-07-14",
        "--hours",
        "168",
    ],
    "dispatch-six-weeks": [
        "dispatch",
        str(SIP / "lp.yaml"),
        "--start",
        "2025-01-06",
        "--hours",
        "1008",
        "--rolling",
        "168",
    ],
    "carbon": ["carbon", "allocate", *CARBON],
    "carbon-zh": ["carbon", "allocate", *CARBON, "--lang", "zh"],
}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    for name, args in COMMANDS.items():
        done = subprocess.run(
            [sys.executable, "-m", "zone_opt", *args, "--out", str(out / name)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=ROOT,
        )
        assert done.returncode == 0, f"zone-opt {' '.join(args)}:\n{done.stderr}"
    return out


@pytest.mark.slow
def test_every_bundled_report_opens_without_errors(browser: Browser, reports: Path) -> None:
    pages = sorted(reports.rglob("*.html"))
    folders = {p.relative_to(reports).parts[0] for p in pages}
    assert folders == set(COMMANDS)  # every command wrote a report
    problems: list[str] = []
    charts = 0
    for page in pages:
        shot = SCREENSHOTS / "all" / ("-".join(page.relative_to(reports).with_suffix(".png").parts))
        opened = open_report(browser, page, shot)
        charts += opened.charts
        if opened.errors:
            problems.append(f"{page.relative_to(reports)}: {opened.errors}")
        if opened.tables == 0:
            problems.append(f"{page.relative_to(reports)}: no table")
    assert problems == []
    tenant_pages = [p for p in pages if p.parent.name == "tenants"]
    assert len(tenant_pages) >= 2 * 20  # the demo park's tenants, in both languages
    assert charts >= 4 * len(COMMANDS)
