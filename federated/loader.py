"""A department's training data, read only through the policy engine.

For one department this reads the clients in its book (``policies.books``) and, for each
feature group (``federated.features.GROUPS``), asks the decision service whether the
department's federated node may use those categories of that client for
``model_training``; the allows are then redeemed in bulk on
``Channel.FEDERATED_TRAINING`` (``DataAccess.redeem_rows``), which decides each one again
on the consent of that moment and writes the ledger entries. So:

- a client whose consent does not name model training, has expired, or was revoked before
  the run is denied at the ``profile`` group and skipped (the skip is counted by reason);
- a group whose level the client did not grant is denied and its features are marked
  missing (``federated.features``); the client still trains on the rest;
- a group outside the department's model-training permit (the risk desk may not train on
  ``user.demographic``) is not asked for at all: it is missing for every client of that
  department, and no pointless denial is written to the ledger;
- a consent withdrawn between decision and redemption is refused at redemption and the
  client skipped, its refusal on the ledger.

Each department acts as its own app account, ``federated <department> node`` (created on
first use, its key never shown: the node reads the database directly, not over HTTP), so
the trail shows which node read what.

The held-out split is a pure function of the pseudonym (one client in five, by SHA-256), so
it is the same in every run and needs no shared randomness.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from consent_ledger.accounts import AccountStore, list_accounts
from consent_ledger.ledger import utc_now
from consent_ledger.principals import Principal, Role
from consent_ledger.runtime import Custos
from consent_ledger.writer import BatchWriter
from federated.errors import InvalidTrainingSettings
from federated.features import FEATURE_NAMES, GROUPS, FeatureGroup, encode, label_index
from policies.access import DataAccess, Grant
from policies.books import clients_in_book
from policies.compiled import CompiledPolicy
from policies.errors import UnknownDepartment
from policies.holder import PolicyHolder
from policies.loader import DEFAULT_POLICY_PATH
from policies.redemption import Channel
from policies.service import DecisionAsk, DecisionLog

__all__ = ["PURPOSE", "Partition", "load_department", "node_principal", "permitted_groups"]

PURPOSE = "model_training"
# Decisions are redeemed right after they are made; a few minutes covers a large book.
_TTL = timedelta(minutes=10)
_CHUNK = 500


@dataclass(frozen=True)
class Partition:
    """One department's rows (never leaving its node) and counts about them (which may)."""

    department: str
    x_train: npt.NDArray[np.float64]
    y_train: npt.NDArray[np.int64]
    x_test: npt.NDArray[np.float64]
    y_test: npt.NDArray[np.int64]
    in_book: int = 0
    skipped: Mapping[str, int] = field(default_factory=dict)
    groups: Mapping[str, int] = field(default_factory=dict)

    @property
    def clients(self) -> int:
        return len(self.y_train) + len(self.y_test)

    def save(self, path: Path) -> None:
        np.savez(
            path,
            x_train=self.x_train,
            y_train=self.y_train,
            x_test=self.x_test,
            y_test=self.y_test,
        )

    @classmethod
    def load(cls, department: str, path: Path) -> Partition:
        with np.load(path) as z:
            return cls(department, z["x_train"], z["y_train"], z["x_test"], z["y_test"])

    def summary(self) -> dict[str, Any]:
        """Counts only: what a model card and a ledger entry may say about the partition."""
        return {
            "in_book": self.in_book,
            "clients": self.clients,
            "train": len(self.y_train),
            "test": len(self.y_test),
            "skipped": dict(self.skipped),
            "groups_present": dict(self.groups),
        }


def held_out(client_id: str) -> bool:
    return hashlib.sha256(client_id.encode()).digest()[0] % 5 == 0


def node_principal(custos: Custos, department: str, departments: frozenset[str]) -> Principal:
    """The department's federated node as an app account, created on first use."""
    name = f"federated {department} node"
    for account in list_accounts(custos.db, Role.APP):
        if account.name == name and account.department == department and not account.revoked_at:
            return Principal(account.account_id, Role.APP, name, department)
    issued = AccountStore(custos.ledger, departments).create_app(department, name, utc_now())
    return Principal(issued.account_id, Role.APP, name, department)


def permitted_groups(policy: CompiledPolicy, department: str) -> tuple[FeatureGroup, ...]:
    """The feature groups the department's model-training permit covers in full."""
    by_purpose = policy.cells.get(department)
    if by_purpose is None:
        known = ", ".join(sorted(policy.cells))
        raise UnknownDepartment(
            f"department {department!r} is not in the policy; it defines {known}",
            field="department",
        )
    cells = by_purpose.get(PURPOSE, {})
    groups = tuple(
        g
        for g in GROUPS
        if all(
            (c := cells.get(cat)) is not None and c.permit_id is not None and c.in_scope
            for cat in g.categories
        )
    )
    if not any(g.required for g in groups):
        raise InvalidTrainingSettings(
            f"department {department!r} has no model-training permit for the risk profile",
            field="department",
        )
    return groups


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _redeem_group(
    decisions: DecisionLog,
    data: DataAccess,
    node: Principal,
    group: FeatureGroup,
    clients: Sequence[str],
    skipped: Counter[str] | None,
) -> dict[str, dict[str, Any]]:
    """The values of ``group`` for each client whose consent covers it, by pseudonym; with
    ``skipped``, the others are counted there by reason."""
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(clients):
        made = decisions.decide(
            node, [DecisionAsk(cid, PURPOSE, group.categories) for cid in chunk]
        )
        grants = []
        for cid, d in zip(chunk, made, strict=True):
            if d.decision.allowed:
                grants.append(Grant(d.decision_id, cid))
            elif skipped is not None:
                skipped[d.decision.reason_code.value] += 1
        if not grants:
            continue
        redeemed = data.redeem_rows(node, grants, Channel.FEDERATED_TRAINING)
        if skipped is not None:
            for _, code in redeemed.refused:
                skipped[f"refused_at_redemption:{code}"] += 1
        for row in redeemed.rows:
            if all(cat in row.values for cat in group.categories):
                out[row.client_id] = row.values
            elif skipped is not None:
                skipped["values_not_collected"] += 1
    return out


def load_department(
    custos: Custos,
    department: str,
    *,
    policy_path: Path = DEFAULT_POLICY_PATH,
    clock: Callable[[], datetime] = utc_now,
) -> Partition:
    """Read the department's partition through the policy engine (module docstring)."""
    policy = PolicyHolder(policy_path, custos.catalogue, custos.ledger)
    groups = permitted_groups(policy.current, department)
    node = node_principal(custos, department, frozenset(policy.current.cells))
    writer = BatchWriter(custos.ledger)
    try:
        decisions = DecisionLog(custos.registry, policy, writer, clock, _TTL)
        data = DataAccess(decisions, custos.registry, writer, clock)
        book = clients_in_book(custos.db, department)
        skipped: Counter[str] = Counter()
        values: dict[str, dict[str, dict[str, Any] | None]] = {}
        present: Counter[str] = Counter()
        for group in sorted(groups, key=lambda g: not g.required):
            candidates = book if group.required else sorted(values)
            got = _redeem_group(
                decisions, data, node, group, candidates, skipped if group.required else None
            )
            for cid in candidates:
                if group.required and cid not in got:
                    continue
                values.setdefault(cid, {})[group.name] = got.get(cid)
            present[group.name] = len(got)
    finally:
        writer.close()
    today = clock().date()
    train_x, train_y, test_x, test_y = [], [], [], []
    for cid in sorted(values):
        row = encode(values[cid], today)
        label = label_index(values[cid]["profile"] or {})
        if held_out(cid):
            test_x.append(row)
            test_y.append(label)
        else:
            train_x.append(row)
            train_y.append(label)
    width = len(FEATURE_NAMES)
    return Partition(
        department,
        np.asarray(train_x, dtype=np.float64).reshape(-1, width),
        np.asarray(train_y, dtype=np.int64),
        np.asarray(test_x, dtype=np.float64).reshape(-1, width),
        np.asarray(test_y, dtype=np.int64),
        in_book=len(book),
        skipped=dict(skipped),
        groups=dict(present),
    )
