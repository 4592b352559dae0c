"""The vega bundle's disk cache: built once, read back, rebuilt when unusable."""

from __future__ import annotations

from pathlib import Path

import pytest
import vl_convert

from zone_opt.reports import bundle


def _counting_builder(monkeypatch: pytest.MonkeyPatch, text: str) -> list[str]:
    calls: list[str] = []

    def build(*, vl_version: str) -> str:
        calls.append(vl_version)
        return text

    monkeypatch.setattr(vl_convert, "javascript_bundle", build)
    return calls


def test_bundle_is_built_once_then_read_from_the_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ZONE_OPT_CACHE_DIR", str(tmp_path / "cache"))
    text = "/* vega */" + "x" * 200_000
    calls = _counting_builder(monkeypatch, text)
    assert bundle._build() == text
    assert bundle._build() == text
    assert len(calls) == 1
    (cached,) = (tmp_path / "cache").glob("vega-bundle-*.js")
    assert cached.read_text(encoding="utf-8") == text
    assert not list((tmp_path / "cache").glob(".*.tmp"))


def test_truncated_cache_is_rebuilt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZONE_OPT_CACHE_DIR", str(tmp_path))
    text = "y" * 200_000
    calls = _counting_builder(monkeypatch, text)
    bundle._build()
    (cached,) = tmp_path.glob("vega-bundle-*.js")
    cached.write_text("half a bund", encoding="utf-8")
    assert bundle._build() == text
    assert len(calls) == 2
    assert cached.read_text(encoding="utf-8") == text


def test_unwritable_cache_still_gives_the_bundle(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    monkeypatch.setenv("ZONE_OPT_CACHE_DIR", str(blocker / "cache"))
    text = "z" * 200_000
    calls = _counting_builder(monkeypatch, text)
    assert bundle._build() == text
    assert bundle._build() == text
    assert len(calls) == 2
