"""Concurrent releases never overspend: many threads, and several processes each with its
own ledger writer, on SQLite and PostgreSQL. The check and the spend run in the release's
transaction after the ledger lock, so exactly the releases that fit the grant succeed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import pytest

from consent_ledger.budgets import BudgetExceeded
from consent_ledger.verify import stored_verifier_key, verify_ledger
from privacy.dp import StatQuery
from tests.dp.conftest import DpWorld

GRANT, EPS = 1.0, 0.1  # exactly ten releases fit (the amounts are exact decimals)


def _try(world: DpWorld, analyst: object) -> bool:
    try:
        world.stats.release(analyst, StatQuery("clients", "count", epsilon=EPS))  # type: ignore[arg-type]
    except BudgetExceeded:
        return False
    return True


def _check_ledger(world: DpWorld) -> None:
    url = world.services.settings.ledger.database_url
    key = stored_verifier_key(url)
    assert key is not None
    verify_ledger(url, key)  # re-derives every budget from the ledger alone


def test_many_threads_never_overspend(world: DpWorld) -> None:
    world.add_client(1)
    analyst, _ = world.analyst(GRANT)
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: _try(world, analyst), range(24)))
    assert sum(outcomes) == 10
    budget = world.stats.budget(analyst)
    assert budget.epsilon_spent == Fraction(1) and budget.releases == 10
    _check_ledger(world)


_WORKER = textwrap.dedent(
    """
    import sys
    from api.settings import api_settings
    from api.state import build_services
    from consent_ledger.budgets import BudgetExceeded
    from consent_ledger.settings import ledger_settings
    from privacy.dp import StatQuery

    url, data_dir, key, tries = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    services = build_services(api_settings(ledger=ledger_settings(database_url=url,
                                                                  data_dir=data_dir)))
    analyst = services.accounts.authenticate(key)
    ok = 0
    for _ in range(tries):
        try:
            services.stats.release(analyst, StatQuery("clients", "count", epsilon=0.1))
            ok += 1
        except BudgetExceeded:
            pass
    services.close()
    print(ok)
    """
)


@pytest.mark.slow
def test_several_processes_never_overspend(world: DpWorld, data_dir: Path) -> None:
    world.add_client(1)
    analyst, key = world.analyst(GRANT)
    url = world.services.settings.ledger.database_url
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, url, str(data_dir), key, "6"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(3)
    ]
    succeeded = 0
    for w in workers:
        out, _ = w.communicate(timeout=300)
        assert w.returncode == 0
        succeeded += int(out.decode().split()[-1])
    assert succeeded == 10
    budget = world.stats.budget(analyst)
    assert budget.epsilon_spent == Fraction(1) and budget.releases == 10
    _check_ledger(world)


_LOOP = textwrap.dedent(
    """
    import sys
    from api.settings import api_settings
    from api.state import build_services
    from consent_ledger.settings import ledger_settings
    from privacy.dp import StatQuery

    url, data_dir, key = sys.argv[1], sys.argv[2], sys.argv[3]
    services = build_services(api_settings(ledger=ledger_settings(database_url=url,
                                                                  data_dir=data_dir)))
    analyst = services.accounts.authenticate(key)
    while True:
        services.stats.release(analyst, StatQuery("clients", "count", epsilon=0.001))
    """
)


@pytest.mark.slow
def test_a_process_killed_mid_release_leaves_spend_and_ledger_agreeing(
    world: DpWorld, data_dir: Path
) -> None:
    """kill -9 wherever a release is: every spend has its entry and every entry its spend."""
    import signal
    import time

    world.add_client(1)
    analyst, key = world.analyst(GRANT)
    url = world.services.settings.ledger.database_url
    worker = subprocess.Popen(
        [sys.executable, "-c", _LOOP, url, str(data_dir), key],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while world.stats.budget(analyst).releases < 5:
            assert worker.poll() is None, "the releasing process died by itself"
            assert time.monotonic() < deadline, "no releases within 300 s"
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=60)
    budget = world.stats.budget(analyst)
    releases = [
        e for e in world.services.custos.ledger.entries() if b'"type":"dp_release"' in e.leaf
    ]
    assert budget.releases == len(releases) >= 5
    assert budget.epsilon_spent == Fraction(len(releases), 1000)
    _check_ledger(world)
