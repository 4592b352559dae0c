"""MatchingService over a real server, checked against the library called directly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import pyarrow as pa
import pytest

from zone_opt import matching
from zone_opt.client import Client
from zone_opt.errors import InvalidInputError, NotFoundError

TABLES = ("spaces", "enterprises", "parks", "tenancies")


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([(c, "ascending") for c in ("enterprise_id", "space_id")])


def _upload_all(client: Client, sample: Callable[[str], pa.Table]) -> dict[str, str]:
    return {name: client.upload(sample(name), name, kind=name) for name in TABLES}


@pytest.mark.parametrize("mode", ["optimal", "stable"])
def test_match_operation_equals_the_library(
    alice: Client, sample: Callable[[str], pa.Table], mode: Literal["optimal", "stable"]
) -> None:
    ids = _upload_all(alice, sample)
    op = alice.submit_match(
        ids["spaces"], ids["enterprises"], ids["parks"], tenancies_id=ids["tenancies"], mode=mode
    )
    done = alice.wait(op, 120)
    assert done.state == "SUCCEEDED", done.error_message
    got = alice.download(done.result["assignments_dataset_id"])
    expected = matching.match(
        sample("spaces"),
        sample("enterprises"),
        parks=sample("parks"),
        tenancies=sample("tenancies"),
        mode=mode,
    )
    assert _sorted(got).equals(_sorted(expected.assignments))
    unmatched = alice.download(done.result["unmatched_dataset_id"])
    assert unmatched.num_rows == expected.unmatched.num_rows
    assert done.result["summary"]["n_matched"] == expected.summary.n_matched


def test_recommend_equals_the_library(alice: Client, sample: Callable[[str], pa.Table]) -> None:
    args = [sample(n) for n in TABLES]
    got = alice.recommend(*args, k=5)
    expected = matching.recommend(args[0], args[1], parks=args[2], tenancies=args[3], k=5)
    assert got.equals(expected)


def test_match_refuses_unknown_datasets_and_bad_options(
    alice: Client, bob: Client, sample: Callable[[str], pa.Table]
) -> None:
    ids = _upload_all(alice, sample)
    with pytest.raises(NotFoundError):  # another tenant's datasets
        bob.submit_match(ids["spaces"], ids["enterprises"], ids["parks"])
    with pytest.raises(InvalidInputError) as err:
        alice.submit_match(ids["spaces"], "", ids["parks"])
    assert err.value.violations[0].field == "enterprises_dataset_id"
    op = alice.submit_match(ids["spaces"], ids["enterprises"], ids["parks"], weights={"nope": 1})
    done = alice.wait(op, 60)
    assert (done.state, done.error_code) == ("FAILED", 3)  # INVALID_ARGUMENT, with the reason
    assert "nope" in done.error_message


def test_cancel_stops_a_match_without_results(
    alice: Client, sample: Callable[[str], pa.Table]
) -> None:
    ids = _upload_all(alice, sample)
    first = alice.submit_match(ids["spaces"], ids["enterprises"], ids["parks"])
    second = alice.submit_match(ids["spaces"], ids["enterprises"], ids["parks"], mode="stable")
    alice.cancel(second)  # queued behind the first, or at its first stage boundary
    assert alice.wait(second, 60).state == "CANCELLED"
    done = alice.wait(first, 120)
    assert done.state == "SUCCEEDED"
    results = {d.dataset_id for d in alice.list() if d.kind == "result"}
    assert results == {done.result["assignments_dataset_id"], done.result["unmatched_dataset_id"]}
