"""zone-opt: the optimisation engine behind industrial-park platforms.

The public API is re-exported here; the compiled core ``zone_opt._core`` is private.
"""

from zone_opt._core import (
    __version__,
    build_profile,
    memory_budget,
    num_threads,
    set_memory_budget,
    set_num_threads,
)
from zone_opt._deprecated import renamed
from zone_opt.errors import (
    CancelledError,
    InvalidInputError,
    JoinPolicyError,
    NotFoundError,
    ResourceExhaustedError,
    SolverError,
    VerificationError,
    Violation,
    ZoneOptError,
)

#: Old names of renamed classes (DeprecationWarning until 0.2; see CHANGELOG.md).
__getattr__ = renamed(__name__, {"PrivacyPolicyError": "zone_opt.errors:JoinPolicyError"})

__all__ = [
    "CancelledError",
    "InvalidInputError",
    "JoinPolicyError",
    "NotFoundError",
    "ResourceExhaustedError",
    "SolverError",
    "VerificationError",
    "Violation",
    "ZoneOptError",
    "__version__",
    "build_profile",
    "memory_budget",
    "num_threads",
    "set_memory_budget",
    "set_num_threads",
]
