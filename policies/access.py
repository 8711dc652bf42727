"""Collecting, reading and using client data, each only under an allow decision.

Redeeming an allow is one writer job, so it runs inside the transaction that writes its
ledger entry, in ledger order after every change committed before it:

1. the decision must be this app's allow for this client, within its time to live;
2. its obligations must admit the channel (``policies.redemption``);
3. it is decided again on the client's consent and the policy of that moment: a withdrawal,
   a downgrade, an expiry or an erasure committed before makes the redemption refused;
4. the values leave with the obligations' instructions (masked, keep-for, delete-by).

A refusal at steps 2 and 3 is itself a ``redemption_refused`` entry, committed before the
error reaches the caller. Step 1 refusals write nothing: they concern a decision the caller
does not hold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from consent_ledger.consent import Consent
from consent_ledger.db import Tx
from consent_ledger.encoding import format_timestamp
from consent_ledger.entries import DataAccessed, DataUsed, RedemptionRefused
from consent_ledger.errors import InvalidRequest, UnknownClient
from consent_ledger.ledger import Appended, NewEntry
from consent_ledger.principals import Principal
from consent_ledger.registry import ConsentRegistry
from consent_ledger.writer import BatchWriter
from custos_errors import CustosError
from policies.decision import (
    CONSENT_RULE_CODES,
    App,
    Context,
    Obligation,
    ReasonCode,
    Request,
    Resource,
    merge_obligations,
)
from policies.engine import decide
from policies.errors import (
    AccessDenied,
    ConsentWithdrawn,
    DecisionNotUsable,
    ObligationForbids,
)
from policies.redemption import (
    ACCESS_AGGREGATE,
    Channel,
    Instructions,
    apply,
    blocking_obligation,
    instructions,
)
from policies.service import DecisionAsk, DecisionLog, StoredDecision

__all__ = ["DataAccess", "Grant", "Redeemed", "RedeemedRows"]

# Reason codes that mean "the consent no longer covers this", as opposed to a policy change.
_CONSENT_CODES = CONSENT_RULE_CODES | {
    ReasonCode.NO_CONSENT,
    ReasonCode.CONSENT_EXPIRED,
    ReasonCode.PURPOSE_NOT_CONSENTED,
    ReasonCode.LEVEL_NOT_CONSENTED,
}
_VALUE_CHANNELS = frozenset({Channel.DATA_API, Channel.DP_RELEASE, Channel.FEDERATED_TRAINING})


@dataclass(frozen=True)
class Redeemed:
    """Values handed out under one decision, with what the receiver must do with them."""

    decision_id: str
    client_id: str
    purpose: str
    values: dict[str, Any]
    obligations: tuple[Obligation, ...]
    instructions: Instructions
    ledger_index: int
    timestamp: str


@dataclass(frozen=True)
class Grant:
    """One client's allow decision, as the DP and federated layers present it."""

    decision_id: str
    client_id: str


@dataclass(frozen=True)
class RedeemedRows:
    """The rows a batch redemption yielded (clients whose consent still held) and the
    clients it refused, by pseudonym, with the refusal's code."""

    rows: tuple[Redeemed, ...]
    refused: tuple[tuple[str, str], ...]


def _refusal(stored: StoredDecision, channel: Channel, reason: str) -> NewEntry:
    return RedemptionRefused(
        stored.app_id,
        stored.department,
        stored.decision_id,
        stored.purpose,
        stored.categories,
        channel.value,
        reason,
    ).entry(stored.client_id)


def _obligation_error(name: str, channel: Channel) -> ObligationForbids:
    if name == ACCESS_AGGREGATE:
        text = "the decision was made for aggregate access; its data leaves only as DP aggregates"
    elif name == "aggregate_only":
        text = (
            "the decision carries aggregate_only: its data leaves only through the "
            "differential-privacy layer, never as a row"
        )
    elif name == "federated_only":
        text = (
            "the decision carries federated_only: its data is read only by the department's "
            "federated-training loader"
        )
    else:
        text = f"the decision carries {name}: it is redeemed for a verified fact, never the value"
    return ObligationForbids(
        f"{text} (channel {channel.value})", obligation=name, field="decision_id"
    )


class DataAccess:
    def __init__(
        self,
        decisions: DecisionLog,
        registry: ConsentRegistry,
        writer: BatchWriter,
        clock: Callable[[], datetime],
    ) -> None:
        self.decisions = decisions
        self.registry = registry
        self.writer = writer
        self.clock = clock
        # Called with (client id, categories) after each collection commits: the KYC desk
        # (privacy/zk) re-attests a provable attribute whose value changed. A callback,
        # because policies must not import privacy.
        self.on_collected: list[Callable[[str, tuple[str, ...]], None]] = []

    # -- collection ----------------------------------------------------------------------

    def collect(
        self, app: Principal, client_id: str, purpose: str, values: Mapping[str, Any]
    ) -> Appended:
        """Store personal values in the vault, if the policy allows this app to collect
        them; the decision (allow or deny) is on the ledger either way."""
        (recorded,) = self.decisions.decide(
            app, [DecisionAsk(client_id, purpose, tuple(sorted(values)))]
        )
        if not recorded.decision.allowed:
            raise AccessDenied(
                f"{recorded.decision.reason} (decision {recorded.decision_id})", field="values"
            )
        appended = self.registry.collect(
            client_id,
            values,
            app.department or "",
            app_id=app.account_id,
            purpose=purpose,
            decision_id=recorded.decision_id,
        )
        for listener in self.on_collected:
            listener(client_id, tuple(sorted(values)))
        return appended

    # -- redemption ----------------------------------------------------------------------

    def _check(
        self, tx: Tx, stored: StoredDecision, channel: Channel
    ) -> tuple[tuple[Obligation, ...], None] | tuple[None, tuple[CustosError, NewEntry]]:
        """Steps 2 and 3 of the module docstring: the obligations in force, or the refusal
        and its ledger entry."""
        blocked = blocking_obligation(stored.obligations, stored.access, channel)
        if blocked is not None:
            return None, (_obligation_error(blocked, channel), _refusal(stored, channel, blocked))
        try:
            consent = self.registry.consent_of_client(tx, stored.client_id)
        except UnknownClient:
            error = ConsentWithdrawn("the client's data has been erased", field="decision_id")
            return None, (error, _refusal(stored, channel, "client_erased"))
        now = self.clock()
        again = decide(self.decisions.policy.current, consent, stored.request(now))
        if not again.allowed:
            code = again.reason_code
            refusal: CustosError
            if code in _CONSENT_CODES:
                refusal = ConsentWithdrawn(
                    f"the client's consent no longer covers this use: {again.reason}",
                    field="decision_id",
                )
            else:
                refusal = DecisionNotUsable(
                    f"the policy in force no longer allows this use: {again.reason}",
                    field="decision_id",
                )
            return None, (refusal, _refusal(stored, channel, code.value))
        # A policy reloaded since may have added obligations; the stricter set holds.
        obligations = merge_obligations([stored.obligations, again.obligations])
        blocked = blocking_obligation(obligations, stored.access, channel)
        if blocked is not None:
            return None, (_obligation_error(blocked, channel), _refusal(stored, channel, blocked))
        return obligations, None

    def _redeem(
        self,
        tx: Tx,
        app: Principal,
        grant: Grant,
        channel: Channel,
        used: Sequence[str] | None = None,
    ) -> tuple[Redeemed | CustosError, NewEntry]:
        stored = self.decisions.stored(tx, app, grant.decision_id, grant.client_id)
        if used is not None:
            extra = sorted(set(used) - set(stored.categories))
            if extra:
                raise DecisionNotUsable(
                    f"the decision does not cover: {', '.join(extra)}", field="categories"
                )
        obligations, refused = self._check(tx, stored, channel)
        if refused is not None:
            return refused
        assert obligations is not None
        now = self.clock()
        how = instructions(obligations, now)
        names = tuple(str(o) for o in obligations)
        values: dict[str, Any] = {}
        if channel in _VALUE_CHANNELS:
            values = apply(self.registry.vault.get(tx, grant.client_id, stored.categories), how)
            entry = DataAccessed(
                stored.app_id,
                stored.department,
                stored.decision_id,
                stored.purpose,
                tuple(sorted(values)),
                channel.value,
                names,
            ).entry(grant.client_id)
        else:
            assert used is not None
            entry = DataUsed(
                stored.app_id,
                stored.department,
                stored.decision_id,
                stored.purpose,
                tuple(sorted(used)),
                format_timestamp(now),
            ).entry(grant.client_id)
        redeemed = Redeemed(
            stored.decision_id, grant.client_id, stored.purpose, values, obligations, how, -1, ""
        )
        return redeemed, entry

    def _one(
        self, app: Principal, grant: Grant, channel: Channel, used: Sequence[str] | None = None
    ) -> Redeemed:
        def job(tx: Tx, first: int) -> tuple[Redeemed | CustosError, list[NewEntry]]:
            outcome, entry = self._redeem(tx, app, grant, channel, used)
            return outcome, [entry]

        outcome, (appended,) = self.writer.run(job)
        if isinstance(outcome, CustosError):
            raise outcome  # its refusal entry is committed
        return _placed(outcome, appended)

    def read(self, app: Principal, decision_id: str, client_id: str) -> Redeemed:
        """The values an allow of this app covered, for the data API (rows to the app)."""
        return self._one(app, Grant(decision_id, client_id), Channel.DATA_API)

    def report_use(
        self, app: Principal, decision_id: str, client_id: str, categories: Sequence[str]
    ) -> Redeemed:
        """Record that values obtained under an allow were used (no values returned)."""
        if not categories:
            raise InvalidRequest("name the categories used", field="categories")
        return self._one(app, Grant(decision_id, client_id), Channel.USE_REPORT, categories)

    def admits_aggregate(
        self,
        analyst: Principal,
        purpose: str,
        categories: Sequence[str],
        consent: Consent,
        now: datetime,
    ) -> bool:
        """For the DP layer, inside its release's transaction: whether clients holding this
        consent may have these categories' values in a differentially private release now
        (``Channel.DP_RELEASE``). Decided by the policy in force for aggregate access, and
        redeemable only if no obligation of the allow rules the channel out. The release
        records one ``dp_release`` entry for all its clients, so nothing is written here."""
        request = Request(
            App(analyst.account_id, analyst.department or ""),
            purpose,
            Resource(consent.client_id, tuple(categories)),
            Context(now, "aggregate"),
        )
        decided = decide(self.decisions.policy.current, consent, request)
        if not decided.allowed:
            return False
        return blocking_obligation(decided.obligations, "aggregate", Channel.DP_RELEASE) is None

    def redeem_rows(
        self, app: Principal, grants: Sequence[Grant], channel: Channel
    ) -> RedeemedRows:
        """Many clients' rows at once, for the DP layer (``Channel.DP_RELEASE``) or a
        department's federated-training loader (``Channel.FEDERATED_TRAINING``): the seam
        those packages build on. All in one transaction: every client whose consent still
        holds yields a row, every other is skipped and its refusal recorded."""
        if channel not in (Channel.DP_RELEASE, Channel.FEDERATED_TRAINING):
            raise InvalidRequest(
                f"rows are redeemed in bulk only for dp_release or federated_training, not "
                f"{channel.value}",
                field="channel",
            )

        def job(tx: Tx, first: int) -> tuple[list[Redeemed | CustosError], list[NewEntry]]:
            outcomes: list[Redeemed | CustosError] = []
            entries: list[NewEntry] = []
            for grant in grants:
                outcome, entry = self._redeem(tx, app, grant, channel)
                outcomes.append(outcome)
                entries.append(entry)
            return outcomes, entries

        outcomes, appended = self.writer.run(job)
        rows: list[Redeemed] = []
        refused: list[tuple[str, str]] = []
        for grant, outcome, landed in zip(grants, outcomes, appended, strict=True):
            if isinstance(outcome, CustosError):
                refused.append((grant.client_id, outcome.code))
            else:
                rows.append(_placed(outcome, landed))
        return RedeemedRows(tuple(rows), tuple(refused))


def _placed(r: Redeemed, appended: Appended) -> Redeemed:
    return Redeemed(
        r.decision_id,
        r.client_id,
        r.purpose,
        r.values,
        r.obligations,
        r.instructions,
        appended.index,
        appended.timestamp,
    )
