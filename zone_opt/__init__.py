"""zone-opt: the optimisation engine behind industrial-park platforms.

The public API is re-exported here; the compiled core ``zone_opt._core`` is private.
"""

from zone_opt._core import (
    __version__,
    memory_budget,
    num_threads,
    set_memory_budget,
    set_num_threads,
)
from zone_opt.errors import (
    CancelledError,
    InvalidInputError,
    NotFoundError,
    PrivacyPolicyError,
    ResourceExhaustedError,
    SolverError,
    VerificationError,
    Violation,
    ZoneOptError,
)

__all__ = [
    "CancelledError",
    "InvalidInputError",
    "NotFoundError",
    "PrivacyPolicyError",
    "ResourceExhaustedError",
    "SolverError",
    "VerificationError",
    "Violation",
    "ZoneOptError",
    "__version__",
    "memory_budget",
    "num_threads",
    "set_memory_budget",
    "set_num_threads",
]
