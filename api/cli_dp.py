"""``custos analysts``: research analysts' accounts and their privacy budgets."""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Any

import typer

from api.cli import DataDirOption, DbOption, IgnoredDataDirOption, _open_readonly, _typer

__all__ = ["analysts_app"]

analysts_app: typer.Typer = _typer(
    "Research analysts: differentially private statistics under an ε budget."
)


@analysts_app.command("create")
def analysts_create(
    name: Annotated[str, typer.Option(help="A name for the analyst's account.")],
    epsilon: Annotated[float, typer.Option(help="The total ε the analyst may spend (> 0).")],
    delta: Annotated[float, typer.Option(help="The total δ (0 for pure ε-DP).")] = 0.0,
    dataset: Annotated[str, typer.Option(help="The dataset the budget is for.")] = "clients",
    department: Annotated[str, typer.Option(help="The department the key acts for.")] = (
        "research"
    ),
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create an analyst account and its budget (an analyst_created ledger entry); the key
    is printed once and stored only hashed."""
    from api.cli import _with_services
    from privacy.dp.analysts import create_analyst

    def create(s: Any) -> Any:
        return create_analyst(
            s.accounts, s.stats.datasets, name, department, dataset, epsilon, delta, s.clock()
        )

    issued = _with_services(db, data_dir, create)
    typer.echo(
        f"analyst {issued.account_id} ({department}, {dataset}, ε = {epsilon}) created; "
        f"its key, shown once: {issued.key}"
    )


def _amount(text: Any) -> str:
    return f"{float(Fraction(str(text))):g}"


@analysts_app.command("list")
def analysts_list(db: DbOption = None, data_dir: IgnoredDataDirOption = None) -> None:
    """List analysts with their budgets: ε total, spent, remaining (never a key). Reads the
    database only."""
    copy = _open_readonly(db)
    try:
        with copy.db.read() as tx:
            rows = tx.all(
                "SELECT a.id, a.name, b.department, b.dataset, b.epsilon_total, b.epsilon_spent,"
                " b.releases, a.revoked_at FROM accounts a JOIN dp_budgets b"
                " ON b.analyst_id = a.id WHERE a.kind = 'analyst' ORDER BY a.created_at, a.id"
            )
    finally:
        copy.close()
    header = (
        "ID",
        "NAME",
        "DEPARTMENT",
        "DATASET",
        "TOTAL",
        "SPENT",
        "REMAINING",
        "RELEASES",
        "REVOKED",
    )
    table = [header] + [
        (
            str(r[0]),
            str(r[1]),
            str(r[2]),
            str(r[3]),
            _amount(r[4]),
            _amount(r[5]),
            _amount(Fraction(str(r[4])) - Fraction(str(r[5]))),
            str(r[6]),
            r[7] or "-",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
