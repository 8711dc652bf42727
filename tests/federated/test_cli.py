"""``custos fl``: the wrapper that runs the federated side in its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CUSTOS = str(Path(sys.executable).parent / "custos")


def _custos(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CUSTOS, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def test_a_missing_federated_environment_is_a_usage_error(tmp_path: Path) -> None:
    env = dict(os.environ) | {"CUSTOS_FL_PYTHON": str(tmp_path / "no-such-python")}
    done = _custos("fl", "run", "--rounds", "1", env=env)
    assert done.returncode == 2
    assert "the federated environment is missing" in done.stderr
    assert "make setup" in done.stderr


def test_rounds_are_required() -> None:
    done = _custos("fl", "run")
    assert done.returncode == 2
    assert "--rounds" in done.stderr


def test_an_unknown_department_cannot_start_a_node(tmp_path: Path) -> None:
    done = _custos("fl", "supernode", "--department", "treasury", "--db", str(tmp_path / "x.db"))
    assert done.returncode == 1
    assert "unknown department 'treasury'" in done.stderr
    assert not (tmp_path / "x.db").exists()
