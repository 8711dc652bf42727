"""``custos fl``: federated training, run in the federated nodes' own environment.

Flower pins an older FastAPI/Starlette/uvicorn/typer than the API runs on, so it lives in
``.venv-fl`` (``make setup`` builds it from ``federated/requirements.lock``) and nothing in
this environment imports it. Each command here starts the matching module of
``federated/app`` with ``.venv-fl/bin/python`` as a child process, passes its arguments
through, and exits with its status. The child gets Flower's switches for a machine with no
internet: no update check, no telemetry, ``FLWR_HOME`` in a temporary folder removed
afterwards (Flower installs nothing at run time: every app is already in ``.venv-fl``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["fl_app", "fl_python"]

_ROOT = Path(__file__).resolve().parents[1]
_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}

fl_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Federated training of the risk-preference model (Flower, in .venv-fl).",
)


def fl_python() -> Path:
    """The federated environment's interpreter ($CUSTOS_FL_PYTHON, else .venv-fl)."""
    given = os.environ.get("CUSTOS_FL_PYTHON")
    return Path(given) if given else _ROOT / ".venv-fl" / "bin" / "python"


def _child_env(flwr_home: str) -> dict[str, str]:
    env = dict(os.environ)
    env |= {
        "FLWR_HOME": flwr_home,
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        "FLWR_TELEMETRY_ENABLED": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    return env


def _run(module: str, argv: list[str]) -> None:
    python = fl_python()
    if not python.exists():
        typer.echo(
            f"error: the federated environment is missing ({python}); run `make setup`",
            err=True,
        )
        raise typer.Exit(2)
    home = tempfile.mkdtemp(prefix="custos-flwr-home-")
    try:
        code = subprocess.call(
            [str(python), "-m", f"federated.app.{module}", *argv],
            env=_child_env(home),
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    raise typer.Exit(code)


def _common(db: str | None, data_dir: Path | None) -> list[str]:
    out = []
    if db is not None:
        out += ["--db", db]
    if data_dir is not None:
        out += ["--data-dir", str(data_dir)]
    return out


Db = Annotated[str | None, typer.Option("--db", help="Database URL or SQLite file.")]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Directory of key files.")]


@fl_app.command("run", context_settings=_PASS_THROUGH)
def run(
    ctx: typer.Context,
    rounds: Annotated[int, typer.Option("--rounds", help="Federated rounds (at least 1).")],
    db: Db = None,
    data_dir: DataDir = None,
    dp: Annotated[bool, typer.Option("--dp", help="Also train federated+dp.")] = False,
    secagg: Annotated[bool, typer.Option("--secagg", help="Aggregate under SecAgg+.")] = False,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the report.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for models, cards and the plot.")
    ] = None,
) -> None:
    """Train on Flower's Simulation Engine and print the comparison table. Further options
    (--strategy, --epsilon, --delta, --clip, --departments, --min-departments, ...) go to
    the federated side: see .venv-fl/bin/python -m federated.app.run --help."""
    argv = ["--rounds", str(rounds), *_common(db, data_dir)]
    if dp:
        argv.append("--dp")
    if secagg:
        argv.append("--secagg")
    if json_file is not None:
        argv += ["--json", str(json_file)]
    if out is not None:
        argv += ["--out", str(out)]
    _run("run", argv + list(ctx.args))


@fl_app.command("superlink", context_settings=_PASS_THROUGH)
def superlink(ctx: typer.Context) -> None:
    """Start a Flower SuperLink for the deployment engine (insecure, for a private network;
    see README.md). Options go to federated.app.superlink."""
    _run("superlink", list(ctx.args))


@fl_app.command("supernode", context_settings=_PASS_THROUGH)
def supernode(
    ctx: typer.Context,
    department: Annotated[str, typer.Option("--department", help="The node's department.")],
    db: Db = None,
    data_dir: DataDir = None,
) -> None:
    """Read the department's training data through the policy engine, then start its Flower
    SuperNode. Options (--superlink, --clientappio-port) go to federated.app.supernode."""
    _run("supernode", ["--department", department, *_common(db, data_dir), *ctx.args])
