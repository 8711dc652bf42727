"""The test harness itself: `database_url` gives a working database on each backend, and no
test depends on the order the suite runs in through the event loop of the test thread."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url


def test_database_url_answers_select_1(database_url: str) -> None:
    """SELECT 1 returns 1 through SQLAlchemy, on the backend that the URL names."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
        assert engine.dialect.name == make_url(database_url).get_backend_name()
    finally:
        engine.dispose()


def test_database_url_is_empty_and_writable(database_url: str) -> None:
    """The database starts with no tables, answers SELECT 1, and keeps a committed row."""
    engine = create_engine(database_url)
    try:
        assert inspect(engine).get_table_names() == []
        with engine.begin() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
            conn.execute(text("CREATE TABLE harness_probe (id INTEGER PRIMARY KEY, note TEXT)"))
            conn.execute(text("INSERT INTO harness_probe VALUES (1, 'kept')"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT note FROM harness_probe")).scalar_one() == "kept"
    finally:
        engine.dispose()


def test_no_test_calls_asyncio_run_on_the_test_thread() -> None:
    """The browser suite's Playwright session keeps an event loop running on the test thread
    for the rest of the run, so a test that calls ``asyncio.run`` there fails or passes by
    test order; tests/support/asyncio_thread.py runs coroutines in a thread of their own."""
    tests = Path(__file__).resolve().parent
    needle = "asyncio" + ".run("  # spelt apart so that this file does not name itself
    offenders = [
        str(path.relative_to(tests))
        for path in tests.rglob("*.py")
        if path.parent.name != "support" and needle in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
