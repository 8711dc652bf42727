"""Everything a request handler needs, built once per application from settings."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from api.metrics import Metrics
from api.settings import ApiSettings
from consent_ledger.accounts import AccountStore
from consent_ledger.audit import AuditIndex
from consent_ledger.ledger import utc_now
from consent_ledger.runtime import Custos, open_custos
from consent_ledger.writer import BatchWriter
from policies.access import DataAccess
from policies.datasets import DEFAULT_DATASETS_PATH, load_datasets
from policies.holder import PolicyHolder
from policies.service import DecisionLog
from privacy.dp import StatsService
from privacy.zk.service import ProofService, proof_service

__all__ = ["Services", "build_services"]

log = structlog.get_logger(__name__)


@dataclass
class Services:
    settings: ApiSettings
    custos: Custos
    accounts: AccountStore
    policy: PolicyHolder
    writer: BatchWriter
    decisions: DecisionLog
    data: DataAccess
    audit: AuditIndex
    metrics: Metrics
    clock: Callable[[], datetime]
    stats: StatsService
    zk: ProofService
    _stop: threading.Event = field(default_factory=threading.Event)
    _checkpointer: threading.Thread | None = None

    def start_checkpointing(self) -> None:
        """Every few seconds: pick up an edited policy file; and, in one server process per
        database, sign a checkpoint if the log grew (so the unsigned tail an auditor cannot
        yet hold the server to stays short) and checkpoint SQLite's WAL (see
        ``Database.defer_wal_checkpoints``). One process is enough for both; others would
        only repeat the signing and the syncs."""

        def loop() -> None:
            while not self._stop.wait(self.settings.checkpoint_interval_seconds):
                try:
                    # An edited policy file takes effect here; a broken one is refused and
                    # the last good policy keeps running.
                    self.policy.reload_if_changed()
                    if self.custos.db.claim_duty("checkpointer"):
                        self.custos.ledger.checkpoint()
                        self.custos.db.checkpoint_wal()
                except Exception as exc:  # noqa: BLE001 - keep signing after a transient failure
                    log.error("checkpoint_failed", error=type(exc).__name__)

        self._checkpointer = threading.Thread(target=loop, name="custos-checkpointer", daemon=True)
        self._checkpointer.start()

    def close(self) -> None:
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=5)
        self.writer.close()
        self.custos.close()


def build_services(settings: ApiSettings, clock: Callable[[], datetime] = utc_now) -> Services:
    custos = open_custos(settings.ledger, clock=clock)
    try:
        # The checkpointing thread copies the WAL back, so no request's commit pays for it.
        custos.db.defer_wal_checkpoints()
        policy = PolicyHolder(settings.policy_path, custos.catalogue, custos.ledger)
        datasets = load_datasets(DEFAULT_DATASETS_PATH, custos.catalogue, policy.current.cells)
        writer = BatchWriter(custos.ledger)
    except BaseException:
        custos.close()
        raise
    decisions = DecisionLog(
        custos.registry, policy, writer, clock, timedelta(seconds=settings.decision_ttl_seconds)
    )
    data = DataAccess(decisions, custos.registry, writer, clock)
    return Services(
        settings=settings,
        custos=custos,
        accounts=AccountStore(custos.ledger, frozenset(policy.current.cells)),
        policy=policy,
        writer=writer,
        decisions=decisions,
        data=data,
        audit=AuditIndex(custos.db),
        metrics=Metrics(),
        clock=clock,
        stats=StatsService(datasets, data, custos.registry, writer, clock),
        zk=proof_service(custos, policy, decisions.proofs, data, writer, clock),
    )
