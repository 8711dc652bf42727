"""What an allow decision may be redeemed for: the one place obligations are enforced.

An allow is a promise with conditions. A decision is *redeemed* when something is done
under it: values handed to an app, a use reported, rows fed to a differential-privacy
measurement or to a department's federated-training loader. Each of those is a ``Channel``,
and this module decides, from the decision's obligations and access alone, whether the
channel may redeem it and what travels with the values:

- ``aggregate_only`` (and any decision asked with ``access: aggregate``): only the
  differential-privacy layer (``Channel.DP_RELEASE``), never a row to an app;
- ``federated_only``: only a department's federated-training data loader;
- ``requires_proof``: never the value itself (``Channel.PROOF`` is where a verified fact
  will be redeemed; no channel here yields the value);
- ``mask``: values leave masked;
- ``retain_days``: an instruction (keep for N days, delete by a date) that travels with
  every value handed out;
- ``log``: the ledger entry every redemption writes.

Pure: no I/O, no clock. ``policies.access`` applies it inside the transaction that also
re-checks the consent and writes the redemption's ledger entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from policies.decision import Obligation, ObligationKind

__all__ = [
    "ACCESS_AGGREGATE",
    "Channel",
    "Instructions",
    "apply",
    "blocking_obligation",
    "instructions",
    "mask_value",
]


class Channel(StrEnum):
    """Where an allow is redeemed."""

    DATA_API = "data_api"  # GET /v1/clients/{id}/data: values, as rows, to the app
    USE_REPORT = "use_report"  # POST /v1/events/used: an app reports it used values it read
    DP_RELEASE = "dp_release"  # privacy/dp: rows into an OpenDP measurement, aggregates out
    FEDERATED_TRAINING = "federated_training"  # federated/: a department's own Flower node
    PROOF = "proof"  # privacy/zk: a verified fact about the value, never the value


# An obligation listed here restricts its decision to exactly these channels.
_ONLY: dict[ObligationKind, frozenset[Channel]] = {
    ObligationKind.AGGREGATE_ONLY: frozenset({Channel.DP_RELEASE}),
    ObligationKind.FEDERATED_ONLY: frozenset({Channel.FEDERATED_TRAINING}),
    ObligationKind.REQUIRES_PROOF: frozenset({Channel.PROOF}),
}
# An allow asked for aggregate access was decided for aggregates, whatever its obligations.
_AGGREGATE_CHANNELS = frozenset({Channel.DP_RELEASE})
# The pseudo-obligation a refusal names when the decision's access, not an obligation, rules
# the channel out; it reads like the obligation research decisions carry.
ACCESS_AGGREGATE = "access:aggregate"


def blocking_obligation(
    obligations: Iterable[Obligation], access: str, channel: Channel
) -> str | None:
    """The first obligation (in declaration order) that rules ``channel`` out, by name, or
    ``access:aggregate`` for an aggregate decision outside the DP layer; None if the channel
    may redeem the decision."""
    for ob in sorted(obligations, key=lambda o: list(ObligationKind).index(o.kind)):
        allowed = _ONLY.get(ob.kind)
        if allowed is not None and channel not in allowed:
            return ob.kind.value
    if access == "aggregate" and channel not in _AGGREGATE_CHANNELS:
        return ACCESS_AGGREGATE
    return None


class Instructions(NamedTuple):
    """What travels with redeemed values: whether they are masked, and how long the
    receiver may keep them (``delete_by`` is the redemption time plus ``retain_days``)."""

    masked: bool
    retain_days: int | None
    delete_by: datetime | None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"masked": self.masked}
        if self.retain_days is not None and self.delete_by is not None:
            out["retain_days"] = self.retain_days
            out["delete_by"] = self.delete_by
        return out


def instructions(obligations: Iterable[Obligation], now: datetime) -> Instructions:
    masked = False
    days: int | None = None
    for ob in obligations:
        if ob.kind is ObligationKind.MASK:
            masked = True
        elif ob.kind is ObligationKind.RETAIN_DAYS and ob.days is not None:
            days = ob.days if days is None else min(days, ob.days)
    return Instructions(masked, days, None if days is None else now + timedelta(days=days))


def mask_value(value: Any) -> str:
    """Keep only the last four characters: enough to match a record, not to reveal it."""
    text = value if isinstance(value, str) else str(value)
    return "•" * max(0, len(text) - 4) + text[-4:]


def apply(values: Mapping[str, Any], how: Instructions) -> dict[str, Any]:
    """The values as they may leave: masked where the decision says so."""
    if how.masked:
        return {k: mask_value(v) for k, v in values.items()}
    return dict(values)
