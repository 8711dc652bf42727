"""The test harness itself: `database_url` gives a working database on each backend."""

from __future__ import annotations

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
