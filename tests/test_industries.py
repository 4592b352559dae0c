"""GB/T 4754-2017 divisions and the supply-chain affinity matrix."""

import numpy as np
import pyarrow as pa

from zone_opt.industries import (
    DIVISION_CODES,
    DIVISIONS,
    N_DIVISIONS,
    SECTION_OF_DIVISION,
    SECTIONS,
    SUPPLY_AFFINITY,
    chain_affinity,
    division_index,
)

SECTION_RANGES = {
    "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50), "F": (51, 52),
    "G": (53, 60), "H": (61, 62), "I": (63, 65), "J": (66, 69), "K": (70, 70), "L": (71, 72),
    "M": (73, 75), "N": (76, 79), "O": (80, 82), "P": (83, 83), "Q": (84, 85), "R": (86, 90),
    "S": (91, 96), "T": (97, 97),
}  # fmt: skip


def test_97_contiguous_divisions_with_names() -> None:
    assert N_DIVISIONS == 97
    assert tuple(f"{i:02d}" for i in range(1, 98)) == DIVISION_CODES
    for _, _, zh, en in DIVISIONS:
        assert zh
        assert en


def test_sections_match_the_standard() -> None:
    assert set(SECTIONS) == set(SECTION_RANGES)
    for code, section in SECTION_OF_DIVISION.items():
        low, high = SECTION_RANGES[section]
        assert low <= int(code) <= high, code


def test_affinity_is_a_row_stochastic_read_only_matrix() -> None:
    assert SUPPLY_AFFINITY.shape == (97, 97)
    assert np.all(SUPPLY_AFFINITY >= 0)
    np.testing.assert_allclose(SUPPLY_AFFINITY.sum(axis=1), 1.0)
    assert not SUPPLY_AFFINITY.flags.writeable
    s = chain_affinity()
    np.testing.assert_array_equal(s, s.T)


def test_electronics_buys_from_its_documented_suppliers() -> None:
    row = SUPPLY_AFFINITY[39 - 1]
    for supplier in (38, 26, 29, 32, 33, 40, 39):
        assert row[supplier - 1] > 0.02, supplier
    # Components within the division dominate, as in the IO tables.
    assert int(np.argmax(row)) == 39 - 1
    # Electronics does not buy from fishing or education.
    assert row[4 - 1] == 0.0
    assert row[83 - 1] == 0.0


def test_division_index_marks_unknown_codes() -> None:
    idx = division_index(pa.array(["01", "39", "97", "98", "00", "3", None]))
    assert idx.tolist() == [0, 38, 96, -1, -1, -1, -1]
