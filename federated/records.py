"""The ledger entries of federated training: one when a run starts, one per aggregated
round, one for the saved model. Counts, settings, hashes and metrics only: never a row, a
value or an update. Numbers that are not integers are decimal strings (the ledger holds no
floats)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from consent_ledger.entries import FlModel, FlRound, FlRunStarted
from consent_ledger.ledger import Ledger
from federated.settings import RunSettings

__all__ = ["TrainingRecord", "decimal"]


def decimal(x: float) -> str:
    """A float as the ledger stores it: six significant digits, in plain decimal notation
    (``0.00001``, not ``1e-05``), no trailing zeros."""
    text = format(Decimal(f"{x:.6g}").normalize(), "f")
    return "0" if text == "-0" else text


class TrainingRecord:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def run_started(
        self,
        run_id: str,
        mode: str,
        engine: str,
        settings: RunSettings,
        policy_version: str,
        departments: Sequence[str],
        secagg: Mapping[str, int] | None,
    ) -> int:
        dp = None
        if settings.dp is not None:
            dp = {
                "epsilon": decimal(settings.dp.epsilon),
                "delta": decimal(settings.dp.delta),
                "clipping_norm": decimal(settings.dp.clip),
                "accountant": "rdp_sampled_gaussian",
            }
        body = FlRunStarted(
            run_id,
            mode,
            engine,
            settings.strategy,
            settings.rounds,
            dp,
            secagg,
            policy_version,
            tuple(departments),
        )
        (landed,) = self.ledger.record(body.entry())
        return landed.index

    def round(
        self,
        run_id: str,
        server_round: int,
        examples: Mapping[str, int],
        rejected: Mapping[str, str],
        settings: RunSettings,
        noise: Mapping[str, float],
        epsilon_spent: Mapping[str, float],
    ) -> int:
        dp = settings.dp
        body = FlRound(
            run_id,
            server_round,
            tuple(sorted(examples)),
            dict(sorted(examples.items())),
            dict(sorted(rejected.items())),
            None if dp is None else decimal(dp.clip),
            None if dp is None else {d: decimal(v) for d, v in sorted(noise.items())},
            None if dp is None else {d: decimal(v) for d, v in sorted(epsilon_spent.items())},
        )
        (landed,) = self.ledger.record(body.entry())
        return landed.index

    def model(self, run_id: str, sha256: str, metrics: Mapping[str, float]) -> int:
        body = FlModel(run_id, sha256, {k: decimal(v) for k, v in sorted(metrics.items())})
        (landed,) = self.ledger.record(body.entry())
        return landed.index
