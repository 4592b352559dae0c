"""Validation of data-model tables against their :class:`~zone_opt.schemas.TableSpec`.

Every check is vectorised with Arrow compute and numpy (credit codes in the Rust core), so
a table of 10^6 rows validates in about a second. Problems are collected, not raised one
by one: :func:`validate_table` and :func:`validate_tables` raise a single
:class:`~zone_opt.errors.InvalidInputError` with one :class:`~zone_opt.errors.Violation`
per problem, each naming ``table.column``, the zero-based row and the reason. A rule that
fails on many rows lists the first :data:`MAX_ROWS_PER_RULE` of them and adds one
row-less violation giving the total count.
"""

from zone_opt.validation.report import MAX_ROWS_PER_RULE
from zone_opt.validation.rules import MAX_YEAR, MIN_YEAR
from zone_opt.validation.tables import BatchValidator, validate_table, validate_tables

__all__ = [
    "MAX_ROWS_PER_RULE",
    "MAX_YEAR",
    "MIN_YEAR",
    "BatchValidator",
    "validate_table",
    "validate_tables",
]
