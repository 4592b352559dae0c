"""Make the README's report pictures: ``python -m docs.gen.report_pictures [--out docs/images]``.

Runs each capability's report command on the bundled data (as
``tests/reports/test_browser.py`` does), opens the page in headless Chromium (Debian's,
through Playwright) and keeps the top of it (title, key figures, the first charts) as
``report-<capability>.png``. Needs ``make browser``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "datasets"
SAMPLE = [
    f"--{t}={DATA / 'sample' / f'{t}.parquet'}"
    for t in ("spaces", "enterprises", "parks", "tenancies")
]

#: picture -> (command after ``zone-opt``, page inside its output folder, height px)
PICTURES: dict[str, tuple[list[str], str, int]] = {
    "matching": (["match", *SAMPLE], "report.html", 1100),
    "facilities": (
        ["facilities", str(DATA / "facilities" / "example_scenario.yaml"), "--no-progress"],
        "report.html",
        1500,
    ),
    "dispatch": (
        [
            "dispatch",
            str(DATA / "sip_park_1" / "milp.yaml"),
            "--start",
            "2025-07-14",
            "--hours",
            "168",
        ],
        "report.html",
        1250,
    ),
    "carbon": (
        [
            "carbon",
            "allocate",
            f"--meters={DATA / 'carbon_demo' / 'meters.parquet'}",
            f"--park={DATA / 'carbon_demo' / 'park.yaml'}",
            f"--enterprises={DATA / 'sample' / 'enterprises.parquet'}",
            "--lang",
            "zh",
        ],
        "report.html",
        1250,
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("no Chromium: run `make browser` first")
    with tempfile.TemporaryDirectory() as work, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for name, (command, page_name, height) in PICTURES.items():
            out = Path(work) / name
            subprocess.run(
                [sys.executable, "-m", "zone_opt", *command, "--out", str(out)],
                check=True,
                cwd=ROOT,
                capture_output=True,
            )
            page = browser.new_page(viewport={"width": 1200, "height": height})
            page.goto((out / page_name).as_uri(), wait_until="load")
            page.wait_for_function(
                "() => [...document.querySelectorAll('div.chart')]"
                ".every(d => d.querySelector('svg'))"
            )
            target = args.out / f"report-{name}.png"
            page.screenshot(path=str(target))
            page.close()
            print(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)
        browser.close()


if __name__ == "__main__":
    main()
