"""Settings read once from the environment.

Every tunable of zone-opt lives here, with its environment variable, so that the gRPC
server, the CLI and library calls agree (threads, limits, paths).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["Settings", "settings"]


def _int_env(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r} is not an integer") from exc
    if value < minimum:
        raise ValueError(f"{name}={value} must be at least {minimum}")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """Process-wide settings.

    Attributes:
        num_threads: size of the Rust engine's thread pool (``ZONE_OPT_NUM_THREADS``;
            default: the number of CPUs).
        log_level: logging level name (``ZONE_OPT_LOG_LEVEL``; default ``INFO``).
        memory_budget_mb: working memory one engine call may ask for, MiB
            (``ZONE_OPT_MEMORY_BUDGET_MB``; default None: the machine's physical memory).
            A larger request is ``ResourceExhaustedError`` naming the argument.
    """

    num_threads: int
    log_level: str
    memory_budget_mb: int | None = None

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            num_threads=_int_env("ZONE_OPT_NUM_THREADS", os.cpu_count() or 1),
            log_level=os.environ.get("ZONE_OPT_LOG_LEVEL", "INFO").upper(),
            memory_budget_mb=(
                _int_env("ZONE_OPT_MEMORY_BUDGET_MB", 0)
                if os.environ.get("ZONE_OPT_MEMORY_BUDGET_MB", "").strip()
                else None
            ),
        )


def settings() -> Settings:
    """The settings in force now (read from the environment on each call; cheap)."""
    return Settings.from_env()
