"""mkdocs hooks (``mkdocs.yml``, ``hooks:``): generated pages and the formats section.

- ``reference/grpc.md`` (from the ``.proto`` sources) and ``reference/cli.md`` (from the
  command line) are generated at every build and never written into ``docs/``, so no
  committed copy can go stale.
- Sphinx roles in docstrings (``:class:`~zone_opt.x.Y```) are shown as the code they name
  (``Y``), as Sphinx would.
- Every ``formats/*.md`` page (written by hand or generated from the models) is listed
  under "File formats" in the navigation and on ``formats/index.md`` (where the marker
  ``<!-- zone-opt:formats -->`` stands), in file-name order, without a ``nav`` entry of
  its own: a format page appearing or going away needs no change to ``mkdocs.yml``.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.zone_opt")

HERE = Path(__file__).resolve().parent

#: Generated page -> the generator module (beside this file) whose ``render()`` writes it.
GENERATED = {"reference/grpc.md": "proto_reference", "reference/cli.md": "cli_reference"}
FORMATS_DIR = "formats/"
FORMATS_INDEX = "formats/index.md"
FORMATS_MARKER = "<!-- zone-opt:formats -->"
#: A Sphinx role rendered by mkdocstrings: the role's name, then the code it wraps.
ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):<code>(~?)([^<]*)</code>"
)


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"zone_opt_docs_{name}", HERE / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"no generator {name} beside {HERE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def on_files(files: Files, config: Any) -> Files:
    """Add each generated page to the build."""
    for page, generator in GENERATED.items():
        text: str = _load(generator).render()
        files.append(File.generated(config, page, content=text))
        log.debug("generated %s (%d characters)", page, len(text))
    return files


def _format_pages(files: Files) -> list[File]:
    return sorted(
        (
            f
            for f in files.documentation_pages()
            if f.src_uri.startswith(FORMATS_DIR) and f.src_uri != FORMATS_INDEX
        ),
        key=lambda f: f.src_uri,
    )


def _formats_entries(nav: Any) -> list[Any] | None:
    """The ``nav`` list that holds ``formats/index.md``, searched depth first."""
    if isinstance(nav, list):
        if FORMATS_INDEX in nav:
            return nav
        for item in nav:
            found = _formats_entries(item)
            if found is not None:
                return found
    elif isinstance(nav, dict):
        for value in nav.values():
            found = _formats_entries(value)
            if found is not None:
                return found
    return None


def on_config(config: Any) -> Any:
    """Add each ``docs/formats/*.md`` page missing from the ``nav`` to the formats section
    (before the navigation is built, so it is a page of the nav like any other)."""
    entries = _formats_entries(config["nav"])
    if entries is None:
        return config
    listed = {e for e in entries if isinstance(e, str)}
    listed |= {v for e in entries if isinstance(e, dict) for v in e.values()}
    docs = Path(config["docs_dir"])
    for path in sorted((docs / FORMATS_DIR).glob("*.md")):
        uri = path.relative_to(docs).as_posix()
        if uri not in listed:
            entries.append(uri)
    return config


def _title(file: File) -> str:
    """The page's first level-1 heading, else its file name."""
    for line in file.content_string.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return Path(file.src_uri).stem


def on_page_markdown(markdown: str, page: Page, config: Any, files: Files) -> str:
    """On the formats index, list the format pages where the marker stands."""
    if page.file.src_uri != FORMATS_INDEX or FORMATS_MARKER not in markdown:
        return markdown
    pages = _format_pages(files)
    if not pages:
        return markdown.replace(FORMATS_MARKER, "")
    links = "\n".join(f"- [{_title(f)}]({f.src_uri.removeprefix(FORMATS_DIR)})" for f in pages)
    return markdown.replace(FORMATS_MARKER, f"## Reference pages\n\n{links}\n")


def _role(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"


def on_page_content(html: str, page: Page, config: Any, files: Files) -> str:
    """Sphinx roles in the rendered docstrings become the code they name."""
    return ROLE.sub(_role, html)
