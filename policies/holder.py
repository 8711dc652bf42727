"""The policy in force: loaded, compiled, swapped atomically, and recorded on the ledger.

A reload that fails keeps the last good policy running and reports the file and line of
the mistake. Loading a version the ledger has not seen yet (by content hash) appends a
``policy_loaded`` entry, so every decision's policy version can be traced to its load.
"""

from __future__ import annotations

import hashlib
import threading
from functools import cached_property
from pathlib import Path

import orjson
import structlog

from consent_ledger.catalogue import Catalogue
from consent_ledger.entries import PolicyLoaded
from consent_ledger.ledger import Ledger
from custos_errors import CustosError
from policies.compiled import CompiledPolicy, compile_policy
from policies.loader import load_policy

__all__ = ["PolicyHolder"]

log = structlog.get_logger(__name__)


class PolicyHolder:
    def __init__(self, path: Path, catalogue: Catalogue, ledger: Ledger) -> None:
        self.path = path
        self.catalogue = catalogue
        self.ledger = ledger
        self._lock = threading.Lock()
        self._mtime = self._stat()
        self.current: CompiledPolicy = self._load()
        self.last_error: str | None = None

    def _stat(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return -1.0

    def _load(self) -> CompiledPolicy:
        compiled = compile_policy(load_policy(self.path, self.catalogue), self.catalogue)
        self._record(compiled.version)
        return compiled

    @cached_property
    def catalogue_version(self) -> str:
        """The catalogue's content hash: moving a category between levels changes decisions
        without changing the policy file, so both versions go on the ledger."""
        canonical = orjson.dumps(
            self.catalogue.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS
        )
        return hashlib.sha256(canonical).hexdigest()

    def _record(self, version: str) -> None:
        with self.ledger.db.write() as tx:
            recorded = f"{version}/{self.catalogue_version}"
            row = tx.one("SELECT value FROM custos_meta WHERE key = 'policy_version'")
            if row is not None and row[0] == recorded:
                return
            self.ledger.append(
                tx, [PolicyLoaded(version, self.catalogue_version, self.path.name).entry()]
            )
            tx.execute("DELETE FROM custos_meta WHERE key = 'policy_version'")
            tx.execute(
                "INSERT INTO custos_meta (key, value) VALUES ('policy_version', ?)", (recorded,)
            )
        log.info("policy_loaded", origin=self.path.name)

    def reload(self) -> CompiledPolicy:
        """Load the file again; on any error the running policy stays and the error is raised."""
        with self._lock:
            self._mtime = self._stat()
            try:
                self.current = self._load()
            except CustosError as exc:
                self.last_error = exc.message
                log.error("policy_refused", error=exc.message)
                raise
            self.last_error = None
            return self.current

    def reload_if_changed(self) -> bool:
        """Reload when the file's modification time moved; errors are logged, not raised."""
        if self._stat() == self._mtime:
            return False
        try:
            self.reload()
        except CustosError:
            return False
        return True
