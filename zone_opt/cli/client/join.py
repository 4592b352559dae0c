"""``zone-opt client`` actions on private-join policies and their audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from zone_opt.cli.client.common import Ordered, connected, emit
from zone_opt.cli.join import MODES
from zone_opt.cli.params import gathered

if TYPE_CHECKING:
    from zone_opt.client import Client

__all__ = ["COMMANDS"]


@click.group(
    "join-policy", cls=Ordered, help="Set or show what peers may do with one of your datasets."
)
def join_policy() -> None:
    pass


@dataclass(frozen=True)
class PolicyArgs:
    dataset_id: str
    key_column: str
    peer: tuple[str, ...]
    mode: tuple[str, ...]
    payload_column: tuple[str, ...]
    quota_per_epoch: int
    epoch_s: int
    min_intersection: int
    key_kind: str


@join_policy.command(
    "set",
    help="Publish (or replace) the join policy of a dataset; prints the policy stored.",
)
@click.argument("dataset_id")
@click.option("--key-column", required=True, help="The column holding the join key.")
@click.option(
    "--peer",
    multiple=True,
    show_default="none",
    help="Tenant allowed to join (repeat for several).",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    multiple=True,
    default=("intersection",),
    help="Mode allowed (repeat for several).",
)
@click.option(
    "--payload-column",
    multiple=True,
    show_default="none",
    help="Column a labelled join may return (repeat for several).",
)
@click.option(
    "--quota-per-epoch",
    type=click.IntRange(min=0),
    default=0,
    help="Sessions per peer per epoch; 0 refuses every session.",
)
@click.option("--epoch-s", type=click.IntRange(min=1), default=86_400, help="Epoch length, s.")
@click.option(
    "--min-intersection",
    type=click.IntRange(min=1),
    default=1,
    help="Smallest intersection for which the sum mode releases its aggregate.",
)
@click.option(
    "--key-kind",
    type=click.Choice(["uscc", "text"]),
    default="uscc",
    help="uscc: unified social credit codes, check character verified; text: any text.",
)
@gathered(PolicyArgs)
@connected
def set_policy(client: Client, args: PolicyArgs) -> int:
    from zone_opt.join.policy import JoinPolicy

    policy = JoinPolicy(
        dataset_id=args.dataset_id,
        key_column=args.key_column,
        allowed_peers=args.peer,
        modes=args.mode,
        payload_columns=args.payload_column,
        quota_per_epoch=args.quota_per_epoch,
        epoch_seconds=args.epoch_s,
        min_intersection=args.min_intersection,
        key_kind=args.key_kind,
    )
    policy.check()
    emit(client.set_join_policy(policy))
    return 0


@join_policy.command("get", help="Show the join policy of a dataset.")
@click.argument("dataset_id")
@connected
def get_policy(client: Client, dataset_id: str) -> int:
    emit(client.get_join_policy(dataset_id))
    return 0


@click.command(
    "join-audit",
    short_help="The join sessions run against one of your datasets.",
    help="The join sessions run against one of your datasets, newest first: who, when, "
    "mode, sizes (never keys).",
)
@click.argument("dataset_id")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, help="Most entries shown.")
@connected
def join_audit(client: Client, dataset_id: str, limit: int) -> int:
    for entry in client.join_audit(dataset_id, limit):
        emit(entry)
    return 0


COMMANDS = (join_policy, join_audit)
