"""Open HTML reports in headless Chromium: console errors and a full-page screenshot.

Chromium comes from the system (Debian's ``chromium``, installed by ``make browser``) and is
driven by Playwright with ``executable_path``, so nothing is downloaded at test time. Where
no Chromium is found the browser tests are skipped locally and fail on CI (``CI`` set).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, sync_playwright

#: Where browser tests save their screenshots (kept after the run, for people to look at).
SCREENSHOTS = Path(
    os.environ.get(
        "ZONE_OPT_SCREENSHOTS",
        Path(__file__).resolve().parents[1] / "target" / "report-screenshots",
    )
)

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str | None:
    explicit = os.environ.get("ZONE_OPT_CHROMIUM")
    if explicit:
        return explicit
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Opened:
    """What the browser saw: console errors and warnings, page errors, the screenshot."""

    path: Path
    errors: list[str]
    warnings: list[str]
    screenshot: Path
    charts: int
    tables: int


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("no Chromium found: `make browser` installs Debian's chromium")
        pytest.skip("no Chromium here (make browser installs it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def open_report(browser: Browser, html: Path, screenshot: Path) -> Opened:
    """Load ``html`` from disk with the network cut off; wait for every chart to draw."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    page = context.new_page()
    errors: list[str] = []
    warnings: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)
        elif message.type == "warning":
            warnings.append(message.text)

    def on_error(error: Error) -> None:
        errors.append(f"page error: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_error)
    requests: list[str] = []
    page.on(
        "request",
        lambda r: None if r.url.startswith(("file:", "data:")) else requests.append(r.url),
    )
    page.goto(html.resolve().as_uri(), wait_until="load")
    charts = page.locator("div.chart").count()
    if charts:
        page.wait_for_function(
            "() => [...document.querySelectorAll('div.chart')].every(d => d.querySelector('svg'))",
            timeout=30_000,
        )
    tables = page.locator("table").count()
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot), full_page=True)
    context.close()
    errors += [f"request to {url}" for url in requests]
    return Opened(html, errors, warnings, screenshot, charts, tables)
