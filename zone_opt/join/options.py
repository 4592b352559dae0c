"""What a private join is: the settings both parties of a session agree on
(:class:`JoinOptions`), and what a receiver asks of a server's dataset (:class:`JoinQuery`).

    from zone_opt.join import JoinOptions, JoinReceiver, JoinSender
    sender = JoinSender(their_keys, payload, options=JoinOptions(mode="labelled"))
    receiver = JoinReceiver(our_keys, options=JoinOptions(mode="labelled"), join="left")

Each value is checked when the object is made (an :class:`InvalidInputError` naming the
field).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from zone_opt.arguments import check_choice, check_flag
from zone_opt.errors import InvalidInputError

__all__ = ["JoinOptions", "JoinQuery", "JoinType", "KeyKind", "Mode", "Protocol", "Suite"]

Mode = Literal["intersection", "labelled", "cardinality", "sum"]
Protocol = Literal["dh", "vole"]
KeyKind = Literal["uscc", "text"]
Suite = Literal["rfc9497", "zone-opt-v1"]
JoinType = Literal["inner", "left"]

MODES: tuple[Mode, ...] = ("intersection", "labelled", "cardinality", "sum")
SUITES: tuple[Suite, ...] = ("rfc9497", "zone-opt-v1")


@dataclass(frozen=True)
class JoinOptions:
    """The settings both parties of one session must agree on.

    Attributes:
        mode: what the receiver learns (``"intersection"``, ``"labelled"``,
            ``"cardinality"``, ``"sum"``); None: ``"labelled"`` for a sender with a payload,
            else ``"intersection"``.
        verifiable: the sender proves every evaluation (intersection and labelled modes).
        key_kind: ``"uscc"`` (18-character unified social credit codes, check character
            verified) or ``"text"``.
        protocol: ``"dh"`` (DH-OPRF, every mode) or ``"vole"`` (RR22, intersection only).
        suite: ``"rfc9497"`` or ``"zone-opt-v1"``; None: RFC 9497 when verifiable, else
            the older suite (a receiver follows the one the sender's setup names).
    """

    mode: Mode | None = None
    verifiable: bool = False
    key_kind: KeyKind = "uscc"
    protocol: Protocol = "dh"
    suite: Suite | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.mode is not None:
            set_(self, "mode", check_choice("mode", self.mode, MODES))
        set_(self, "verifiable", check_flag("verifiable", self.verifiable))
        set_(self, "key_kind", check_choice("key_kind", self.key_kind, ("uscc", "text")))
        if self.protocol not in ("dh", "vole"):
            raise InvalidInputError.single("protocol", None, "must be 'dh' or 'vole'")
        if self.suite is not None and self.suite not in SUITES:
            raise InvalidInputError.single("suite", None, f"must be one of {', '.join(SUITES)}")

    def resolved_mode(self, *, has_payload: bool) -> Mode:
        """``mode``, or its default for a party with (or without) a payload."""
        if self.mode is not None:
            return self.mode
        return "labelled" if has_payload else "intersection"


@dataclass(frozen=True)
class JoinQuery:
    """What a receiver asks of a dataset on a zone-opt server; the dataset's join policy
    decides the key kind and the hash suite (named in the setup message).

    Attributes:
        mode: as :attr:`JoinOptions.mode` (default ``"intersection"``).
        columns: labelled mode: the payload columns wanted (the policy must allow each).
        join: labelled mode: ``"inner"`` or ``"left"`` (unmatched rows kept, null payload).
        verifiable: require the sender's proof of every evaluation.
    """

    mode: Mode = "intersection"
    columns: tuple[str, ...] = ()
    join: JoinType = "inner"
    verifiable: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "mode", check_choice("mode", self.mode, MODES))
        columns = self.columns
        if not isinstance(columns, tuple | list) or not all(isinstance(c, str) for c in columns):
            raise InvalidInputError.single("columns", None, "must be a sequence of column names")
        set_(self, "columns", tuple(columns))
        set_(self, "join", check_choice("join", self.join, ("inner", "left")))
        set_(self, "verifiable", check_flag("verifiable", self.verifiable))

    def options(self) -> JoinOptions:
        """The receiver's session options for this query (key kind and suite are the
        sender's, read from its setup)."""
        return JoinOptions(mode=self.mode, verifiable=self.verifiable)
