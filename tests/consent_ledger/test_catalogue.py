"""The catalogue file under policies/."""

from __future__ import annotations

from pathlib import Path

import pytest

from consent_ledger.catalogue import load_catalogue
from consent_ledger.errors import CatalogueError, UnknownName


def test_shipped_catalogue_loads() -> None:
    """The firm's catalogue defines four levels, categories at every level and the purposes."""
    cat = load_catalogue()
    assert [lv.level for lv in cat.levels] == [1, 2, 3, 4]
    assert {c.level for c in cat.categories} == {1, 2, 3, 4}
    assert cat.purpose("marketing").separate_opt_in
    assert cat.category("user.financial.tax_records").level == 4


def test_unknown_names_are_errors() -> None:
    """Unknown level, category and purpose each raise UnknownName naming the field."""
    cat = load_catalogue()
    for call, field in (
        (lambda: cat.level(9), "level"),
        (lambda: cat.category("x.y"), "category"),
        (lambda: cat.purpose("spam"), "purpose"),
    ):
        with pytest.raises(UnknownName) as info:
            call()
        assert info.value.field == field


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: [", "not valid YAML"),
        ("version: 1\nlevels: []\ncategories: []\npurposes: []\n", "levels"),
        ("{}", "version"),
    ],
)
def test_bad_catalogue_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    """A malformed catalogue is refused with the file and the offending entry."""
    path = tmp_path / "catalogue.yaml"
    path.write_text(text)
    with pytest.raises(CatalogueError, match=message) as info:
        load_catalogue(path)
    assert str(path) in info.value.message


def test_child_category_cannot_need_less_than_parent(tmp_path: Path) -> None:
    """A category under a level-4 parent cannot sit at level 1."""
    base = Path("policies/catalogue.yaml").read_text()
    bad = base.replace(
        "categories:\n",
        "categories:\n  - {key: user.financial.tax_records.summary, level: 1, "
        "name: {en: a, zh: b}}\n",
        1,
    )
    path = tmp_path / "c.yaml"
    path.write_text(bad)
    with pytest.raises(CatalogueError, match="cannot need less"):
        load_catalogue(path)
