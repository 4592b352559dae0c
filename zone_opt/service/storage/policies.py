"""Join policies, sessions and the audit log of the sending side of private joins.

A dataset's owner publishes a :class:`JoinPolicy`; a peer (another tenant authenticated on
this server) opens a session, which checks the policy (peer, mode, columns, protocol, key
kind, quota per epoch), builds a fresh :class:`zone_opt.join.JoinSender` (a new key per
session) and writes an audit row: who, when, mode, protocol, columns, set sizes, never
keys or messages. The session lives in memory until evaluated (DH once, VOLE twice) or
expired.

Policies and the audit log are SQLite tables in the server's database (WAL,
``synchronous=FULL``), each method one short transaction.
"""

from __future__ import annotations

import json
import time
import uuid

from zone_opt.errors import (
    InvalidInputError,
    NotFoundError,
    ResourceExhaustedError,
    Violation,
    bounded,
)
from zone_opt.join.policy import AuditEntry, JoinPolicy
from zone_opt.service.storage.datasets import DatasetStore
from zone_opt.service.storage.jobstore import Database

__all__ = ["PolicyStore"]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS join_policies (
    dataset_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    policy TEXT NOT NULL,
    updated_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS join_audit (
    session_id TEXT PRIMARY KEY,
    dataset_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    peer TEXT NOT NULL,
    mode TEXT NOT NULL,
    columns TEXT NOT NULL,
    sender_keys INTEGER NOT NULL,
    receiver_keys INTEGER NOT NULL DEFAULT 0,
    opened_s REAL NOT NULL,
    evaluated_s REAL,
    outcome TEXT NOT NULL,
    protocol TEXT NOT NULL DEFAULT 'dh'
);
CREATE INDEX IF NOT EXISTS join_audit_quota ON join_audit (dataset_id, peer, opened_s)
"""


class PolicyStore:
    """Policies and the audit log in the server's database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as conn:
            for statement in _SCHEMA.split(";"):
                conn.execute(statement)
            columns = {row["name"] for row in conn.execute("PRAGMA table_info(join_audit)")}
            if "protocol" not in columns:  # a data dir from before the VOLE protocol
                conn.execute(
                    "ALTER TABLE join_audit ADD COLUMN protocol TEXT NOT NULL DEFAULT 'dh'"
                )

    def put(self, tenant: str, policy: JoinPolicy, datasets: DatasetStore) -> JoinPolicy:
        """Publish ``policy`` for a dataset ``tenant`` owns (NOT_FOUND otherwise)."""
        policy.check()
        columns = datasets.get(tenant, policy.dataset_id, field="policy.dataset_id").columns
        names = set(columns)
        violations = []
        if policy.key_column not in names:
            violations.append(
                Violation(
                    "policy.key_column",
                    None,
                    f"no column {bounded(policy.key_column)!r} in the dataset"
                    f" (its columns: {', '.join(columns)})",
                )
            )
        violations += [
            Violation(
                f"policy.payload_columns[{i}]", None, f"no column {bounded(c)!r} in the dataset"
            )
            for i, c in enumerate(policy.payload_columns)
            if c not in names
        ]
        error = InvalidInputError.collect(violations)
        if error is not None:
            raise error
        body = json.dumps(policy.__dict__, sort_keys=True)
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT tenant FROM join_policies WHERE dataset_id = ?", (policy.dataset_id,)
            ).fetchone()
            if row is not None and row["tenant"] != tenant:
                raise NotFoundError(f"dataset {policy.dataset_id} not found")
            conn.execute(
                "INSERT OR REPLACE INTO join_policies VALUES (?, ?, ?, ?)",
                (policy.dataset_id, tenant, body, time.time()),
            )
        return policy

    def get(self, dataset_id: str) -> tuple[str, JoinPolicy]:
        """``(owner tenant, policy)``; NOT_FOUND when the dataset has no policy."""
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT tenant, policy FROM join_policies WHERE dataset_id = ?", (dataset_id,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no join policy for dataset {dataset_id}")
        raw = json.loads(row["policy"])
        for key in ("allowed_peers", "modes", "payload_columns"):
            raw[key] = tuple(raw[key])
        # A policy stored before the field allows DH only (JoinPolicy's default).
        if "protocols" in raw:
            raw["protocols"] = tuple(raw["protocols"])
        return row["tenant"], JoinPolicy(**raw)

    def owned(self, tenant: str, dataset_id: str) -> JoinPolicy:
        """The policy of a dataset ``tenant`` owns (another tenant gets NOT_FOUND)."""
        owner, policy = self.get(dataset_id)
        if owner != tenant:
            raise NotFoundError(f"no join policy for dataset {dataset_id}")
        return policy

    def open_session(self, entry: AuditEntry, *, owner: str, policy: JoinPolicy) -> None:
        """Record a session, atomically with the quota check of its epoch."""
        now_s, peer = entry.opened_s, entry.peer
        epoch_start = now_s - now_s % policy.epoch_seconds
        with self.db.transaction() as conn:
            used = conn.execute(
                "SELECT COUNT(*) FROM join_audit WHERE dataset_id = ? AND peer = ? "
                "AND opened_s >= ? AND outcome NOT LIKE 'refused%'",
                (policy.dataset_id, peer, epoch_start),
            ).fetchone()[0]
            if used >= policy.quota_per_epoch:
                raise ResourceExhaustedError(
                    f"peer {peer!r} has used its {policy.quota_per_epoch} sessions of this "
                    "epoch on this dataset",
                    retry_after_s=epoch_start + policy.epoch_seconds - now_s,
                )
            conn.execute(
                "INSERT INTO join_audit (session_id, dataset_id, owner, peer, mode, columns, "
                "sender_keys, opened_s, outcome, protocol) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'opened', ?)",
                (
                    entry.session_id,
                    policy.dataset_id,
                    owner,
                    peer,
                    entry.mode,
                    json.dumps(entry.columns),
                    entry.sender_keys,
                    now_s,
                    entry.protocol,
                ),
            )

    def refuse(
        self, owner: str, peer: str, dataset_id: str, mode: str, why: str, protocol: str = "dh"
    ) -> None:
        """Record a refused attempt (it does not count against the quota)."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO join_audit (session_id, dataset_id, owner, peer, mode, columns, "
                "sender_keys, opened_s, outcome, protocol) "
                "VALUES (?, ?, ?, ?, ?, '[]', 0, ?, ?, ?)",
                (
                    uuid.uuid4().hex,
                    dataset_id,
                    owner,
                    peer,
                    mode,
                    time.time(),
                    f"refused: {why}",
                    protocol,
                ),
            )

    def requested(self, session_id: str, receiver_keys: int) -> None:
        """A VOLE session's first step: the receiver announced its number of keys."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE join_audit SET receiver_keys = ? WHERE session_id = ?",
                (receiver_keys, session_id),
            )

    def evaluated(self, session_id: str, receiver_keys: int) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE join_audit SET receiver_keys = ?, evaluated_s = ?, outcome = 'evaluated' "
                "WHERE session_id = ?",
                (receiver_keys, time.time(), session_id),
            )

    def audit(self, tenant: str, dataset_id: str, limit: int) -> list[AuditEntry]:
        """Sessions on a dataset ``tenant`` owns, newest first."""
        self.owned(tenant, dataset_id)
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT * FROM join_audit WHERE dataset_id = ? AND owner = ? "
                "ORDER BY opened_s DESC LIMIT ?",
                (dataset_id, tenant, limit),
            ).fetchall()
        return [
            AuditEntry(
                session_id=r["session_id"],
                peer=r["peer"],
                dataset_id=r["dataset_id"],
                mode=r["mode"],
                columns=tuple(json.loads(r["columns"])),
                sender_keys=r["sender_keys"],
                receiver_keys=r["receiver_keys"],
                opened_s=r["opened_s"],
                evaluated_s=r["evaluated_s"],
                outcome=r["outcome"],
                protocol=r["protocol"],
            )
            for r in rows
        ]
