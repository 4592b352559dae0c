"""The script every HTML report inlines: vega-embed, Vega-Lite and Vega in one bundle.

vl-convert builds it (~0.9 MB, about 2 s of CPU). It is built once per machine and kept in
the user's cache (``$ZONE_OPT_CACHE_DIR``, else ``$XDG_CACHE_HOME/zone-opt``, else
``~/.cache/zone-opt``), one file per vl-convert and Vega-Lite version, written under a
temporary name and renamed, so a reader never sees half a file; where the cache cannot be
written the bundle is simply rebuilt. Within a process it is built on a background thread
from the first :func:`prepare_bundle` (vl-convert releases the GIL), so a report written
later waits only for what is left of it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import cast

import vl_convert
from altair.utils._importers import vl_version_for_vl_convert

__all__ = ["bundle_text", "cache_dir", "prepare_bundle"]

#: A cached bundle shorter than this is not one (a truncated or foreign file): rebuilt.
_MIN_BUNDLE_BYTES = 100_000


def cache_dir() -> Path:
    """Where zone-opt keeps what it can rebuild (created on first write)."""
    explicit = os.environ.get("ZONE_OPT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "zone-opt"


def _cache_file(vl_version: str) -> Path:
    version = getattr(vl_convert, "__version__", "unknown")
    return cache_dir() / f"vega-bundle-vlc{version}-vl{vl_version}.js"


def _read_cached(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return text if len(text) >= _MIN_BUNDLE_BYTES else None


def _store(path: Path, text: str) -> None:
    """Write atomically; a cache that cannot be written is skipped, never an error."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _build() -> str:
    vl_version = vl_version_for_vl_convert()
    path = _cache_file(vl_version)
    cached = _read_cached(path)
    if cached is not None:
        return cached
    # vl-convert's stub marks `snippet` required; at run time it is optional (its default
    # snippet puts vegaEmbed on window), as Altair's own inline template calls it.
    make = cast(Callable[..., str], vl_convert.javascript_bundle)
    text = make(vl_version=vl_version)
    _store(path, text)
    return text


class _Bundle:
    """The bundle of this process, built once on a background thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._future: Future[str] | None = None

    def start(self) -> Future[str]:
        with self._lock:
            if self._future is None:
                future: Future[str] = Future()
                thread = threading.Thread(
                    target=self._run, args=(future,), name="vega-bundle", daemon=True
                )
                thread.start()
                self._future = future
            return self._future

    @staticmethod
    def _run(future: Future[str]) -> None:
        try:
            future.set_result(_build())
        except BaseException as exc:  # handed to the thread that waits for the bundle
            future.set_exception(exc)


_BUNDLE = _Bundle()


def prepare_bundle() -> None:
    """Start getting the bundle in the background (from the cache, or built)."""
    _BUNDLE.start()


def bundle_text() -> str:
    """The bundle (waits for the background build if one is running)."""
    return _BUNDLE.start().result()
