"""Bulk matching: exact assignment with optimality certificates.

Modules: ``assignment`` (dense and sparse exact solvers, the :class:`Assignment` result).
"""

from zone_opt.matching.assignment import Assignment, assign_dense, assign_sparse

__all__ = [
    "Assignment",
    "assign_dense",
    "assign_sparse",
]
