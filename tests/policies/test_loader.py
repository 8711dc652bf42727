"""The policy loader: the shipped file loads, versions are content hashes, and every mistake
is reported as FILE:LINE:COL at the node that is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from consent_ledger.catalogue import Catalogue, load_catalogue
from policies import DEFAULT_POLICY_PATH, PolicyInvalid, load_policy, parse_policy
from tests.policies.support import CATALOGUE, POLICY

TINY_CATALOGUE = """\
version: 1
levels:
  - {level: 1, key: a, name: {en: A, zh: A}, description: {en: A, zh: A}}
  - {level: 2, key: b, name: {en: B, zh: B}, description: {en: B, zh: B}}
  - {level: 3, key: c, name: {en: C, zh: C}, description: {en: C, zh: C}}
  - {level: 4, key: d, name: {en: D, zh: D}, description: {en: D, zh: D}}
categories:
  - {key: user.name, level: 1, name: {en: Name, zh: N}}
  - {key: user.financial.holdings, level: 2, name: {en: Holdings, zh: H}}
  - {key: user.demographic.family, level: 3, name: {en: Family, zh: F}}
  - {key: user.financial.tax_records, level: 4, name: {en: Tax, zh: T}}
purposes:
  - {key: kyc, name: {en: KYC, zh: K}, description: {en: KYC, zh: K}}
  - {key: advice, name: {en: Advice, zh: A}, description: {en: Advice, zh: A}}
  - key: marketing
    name: {en: Marketing, zh: M}
    description: {en: Marketing, zh: M}
    separate_opt_in: true
    max_level: 1
"""

# Line numbers below are the ones the expected messages name; keep them in step.
TINY_POLICY = """\
version: "t1"
description: "test policy"
departments:
  desk:
    description: "the desk"
    permits:
      - id: desk-kyc
        purposes: [kyc]
        categories: [user]
        why: "kyc"
      - id: desk-marketing
        purposes: [marketing]
        categories: [user.name]
        why: "offers"
forbids:
  - id: tax-kyc-only
    code: forbidden_tax_records_kyc_only
    categories: [user.financial.tax_records]
    except_purposes: [kyc]
    why: "aml"
consent_rules:
  - id: marketing-opt-in
    purposes: [marketing]
    code: marketing_not_opted_in
    why: "opt-in"
obligations:
  - id: log-all
    add: [log]
    why: "ledger"
dpv:
  prefixes: {pd: "https://w3id.org/dpv/pd#", dpv: "https://w3id.org/dpv#"}
  categories:
    user.name: {term: "pd:Name", match: exact}
    user.financial.holdings: {term: "pd:Ownership", match: broad, note: "n"}
    user.demographic.family: {term: "pd:FamilyStructure", match: exact}
    user.financial.tax_records: {term: "pd:Tax", match: exact}
  purposes:
    kyc: {term: "dpv:IdentityVerification", match: exact}
    advice: {term: "dpv:ProvidePersonalisedRecommendations", match: exact}
    marketing: {term: "dpv:DirectMarketing", match: exact}
"""

PURPOSES = "kyc, advice, marketing"


@pytest.fixture(scope="module")
def tiny_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    path = tmp_path_factory.mktemp("catalogue") / "catalogue.yaml"
    path.write_text(TINY_CATALOGUE, encoding="utf-8")
    return load_catalogue(path)


def _edited(**lines: str) -> str:
    """TINY_POLICY with whole lines replaced: ``_edited(l8="...")`` replaces line 8."""
    out = TINY_POLICY.splitlines()
    for key, text in lines.items():
        out[int(key.removeprefix("l")) - 1] = text
    return "\n".join(out) + "\n"


def _problems(tmp_path: Path, catalogue: Catalogue, text: str) -> tuple[str, ...]:
    path = tmp_path / "firm.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyInvalid) as info:
        load_policy(path, catalogue)
    assert info.value.code == "policy_invalid"
    return tuple(p.removeprefix(f"{path}:") for p in info.value.problems)


def test_shipped_policy_loads_with_its_hash_as_version() -> None:
    """firm.yaml loads; its version is a sha256 hex digest and its label the file's own."""
    policy = load_policy(DEFAULT_POLICY_PATH, CATALOGUE)
    assert len(policy.version) == 64
    assert int(policy.version, 16) >= 0
    assert policy.label == "2025.1"
    assert policy == POLICY


def test_tiny_policy_loads(tiny_catalogue: Catalogue) -> None:
    """The test's own policy is valid, so each test below breaks exactly one thing."""
    assert parse_policy(TINY_POLICY, "tiny.yaml", tiny_catalogue).label == "t1"


def test_version_ignores_layout_comments_and_key_order(tiny_catalogue: Catalogue) -> None:
    """Two files that say the same thing share a version: comments, flow vs block style,
    key order and spelling out a default do not change the content hash."""
    base = parse_policy(TINY_POLICY, "a.yaml", tiny_catalogue)
    relaid = TINY_POLICY.replace('version: "t1"\ndescription: "test policy"\n', "") + (
        "# the same policy, laid out differently\n"
        'description: "test policy"\n'
        'version: "t1"\n'
        "proofs: []\n"
    )
    relaid = relaid.replace("        purposes: [kyc]\n", "        purposes:\n          - kyc\n")
    other = parse_policy(relaid, "b.yaml", tiny_catalogue)
    assert other.version == base.version
    assert other.source == "b.yaml"


def test_version_changes_with_any_content(tiny_catalogue: Catalogue) -> None:
    """Changing what the policy says, even a rule's explanation, yields a new version."""
    base = parse_policy(TINY_POLICY, "a.yaml", tiny_catalogue)
    changed = parse_policy(_edited(l10='        why: "kyc checks"'), "a.yaml", tiny_catalogue)
    assert changed.version != base.version


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        pytest.param(
            {"l8": "        purposes: [kyc, kycc]"},
            (
                "8:25: departments.desk.permits[0].purposes[1]: unknown purpose 'kycc'; "
                f"the catalogue has {PURPOSES}",
            ),
            id="unknown-purpose",
        ),
        pytest.param(
            {"l13": "        categories: [user.nam]"},
            (
                "13:22: departments.desk.permits[1].categories[0]: unknown category "
                "'user.nam': no catalogue category is user.nam or beneath it",
            ),
            id="unknown-category",
        ),
        pytest.param(
            {"l10": '        whyy: "kyc"'},
            (
                "7:9: departments.desk.permits[0]: missing key 'why'",
                "10:9: departments.desk.permits[0]: unknown key 'whyy'",
            ),
            id="misspelt-key",
        ),
        pytest.param(
            {"l2": 'descripton: "x"'},
            ("1:1: missing key 'description'", "2:1: unknown key 'descripton'"),
            id="misspelt-top-level-key",
        ),
        pytest.param(
            {"l4": "  Desk:"},
            ("4:3: departments.Desk: String should match pattern '^[a-z][a-z0-9_]*$'",),
            id="bad-department-name-points-at-the-key",
        ),
        pytest.param(
            {"l8": "        purposes: kyc"},
            ("8:19: departments.desk.permits[0].purposes: Input should be a valid tuple",),
            id="scalar-for-list",
        ),
        pytest.param(
            {"l19": '    min_level: "2"'},
            ("19:16: forbids[0].min_level: Input should be a valid integer",),
            id="string-for-level",
        ),
        pytest.param(
            {"l28": "    add: [log, masks]"},
            (
                "28:16: obligations[0].add[1]: unknown obligation 'masks'; use one of "
                "aggregate_only, federated_only, log, mask or {retain_days: N}",
            ),
            id="unknown-obligation",
        ),
        pytest.param(
            {"l28": "    add: [log, {retain_days: 0}]"},
            (
                "28:16: obligations[0].add[1]: retain_days must be a whole number of days "
                "from 1 to 36500",
            ),
            id="bad-retention",
        ),
        pytest.param(
            {"l28": "    add: [requires_proof]"},
            (
                "28:11: obligations[0].add[0]: requires_proof comes from a proofs rule, "
                "not an obligations rule",
            ),
            id="proof-obligation-outside-proofs",
        ),
        pytest.param(
            {"l17": "    code: allowed"},
            (
                "17:11: forbids[0].code: 'allowed' is not a forbid reason code; use one of "
                "department_not_permitted, forbidden_by_policy, forbidden_marketing_above_l1, "
                "forbidden_research_row_level, forbidden_tax_records_kyc_only",
            ),
            id="forbid-with-non-forbid-code",
        ),
        pytest.param(
            {"l2": 'version: "t2"'},
            ("2:1: duplicate key 'version' (first given at line 1)",),
            id="duplicate-key",
        ),
        pytest.param(
            {"l11": "      - id: desk-kyc"},
            (
                "11:13: departments.desk.permits[1].id: rule id 'desk-kyc' is already used "
                "by departments.desk.permits[0]",
            ),
            id="duplicate-rule-id",
        ),
        pytest.param(
            {"l19": "    departments: [trading]"},
            (
                "19:19: forbids[0].departments[0]: unknown department 'trading'; "
                "the policy defines desk",
            ),
            id="unknown-department",
        ),
        pytest.param(
            {"l13": "        categories: [user.name, user.financial]"},
            (
                "13:33: departments.desk.permits[1].categories[1]: rule desk-marketing lets "
                "desk use user.financial.holdings (level 2) for marketing, but the catalogue "
                "caps marketing at level 1; narrow the categories or add a forbid",
            ),
            id="permit-beyond-catalogue-cap",
        ),
        pytest.param(
            {"l13": "        categories: [user.financial.tax_records]"},
            (
                "11:13: departments.desk.permits[1].id: rule desk-marketing can never allow "
                "marketing: every category it names is forbidden by tax-kyc-only",
            ),
            id="permit-swallowed-by-forbid",
        ),
        pytest.param(
            {"l23": "    purposes: [advice]"},
            (
                "22:3: consent_rules: the catalogue makes marketing a separate opt-in; "
                "a consent rule must name it",
            ),
            id="opt-in-without-consent-rule",
        ),
        pytest.param(
            {"l18": "    categories: [user.name]", "l19": "    min_level: 2"},
            (
                "19:16: forbids[0].min_level: rule tax-kyc-only never applies: the catalogue "
                "puts every category it names below level 2",
            ),
            id="forbid-contradicting-catalogue-levels",
        ),
        pytest.param(
            {"l36": "    # no term for tax records"},
            (
                "33:5: dpv.categories: no DPV term for catalogue category "
                "'user.financial.tax_records'",
            ),
            id="dpv-term-missing",
        ),
        pytest.param(
            {"l38": '    kyc: {term: "sector-finance:CustomerDueDiligence", match: exact}'},
            (
                "38:17: dpv.purposes.kyc.term: prefix 'sector-finance' is not declared "
                "in dpv.prefixes",
            ),
            id="dpv-prefix-undeclared",
        ),
        pytest.param(
            {"l34": '    user.financial.holdings: {term: "pd:Ownership", match: broad}'},
            (
                "34:30: dpv.categories.user.financial.holdings: a broad match needs a note "
                "saying why no exact term fits",
            ),
            id="dpv-broad-match-without-note",
        ),
    ],
)
def test_mistakes_are_reported_at_their_line(
    tmp_path: Path, tiny_catalogue: Catalogue, edits: dict[str, str], expected: tuple[str, ...]
) -> None:
    """Each mistake is refused with FILE:LINE:COL and the path to the offending node."""
    assert _problems(tmp_path, tiny_catalogue, _edited(**edits)) == expected


def test_all_problems_are_reported_in_file_order(tmp_path: Path, tiny_catalogue: Catalogue) -> None:
    """Several semantic mistakes are all reported at once, sorted by line."""
    text = _edited(l8="        purposes: [kycc]", l13="        categories: [user.nam]")
    problems = _problems(tmp_path, tiny_catalogue, text)
    assert [p.split(":", 2)[:2] for p in problems] == [["8", "20"], ["13", "22"]]


def test_yaml_syntax_error_names_the_line(tmp_path: Path, tiny_catalogue: Catalogue) -> None:
    """Broken YAML is refused at the line where the parser stopped."""
    (problem,) = _problems(tmp_path, tiny_catalogue, _edited(l8="        purposes: [kyc"))
    assert problem.startswith("9:")
    assert "not valid YAML" in problem


def test_empty_and_missing_files(tmp_path: Path, tiny_catalogue: Catalogue) -> None:
    """An empty file and a file that is not there are refused, naming the file."""
    assert _problems(tmp_path, tiny_catalogue, "") == ("1:1: the policy file is empty",)
    missing = tmp_path / "nope.yaml"
    with pytest.raises(PolicyInvalid) as info:
        load_policy(missing, tiny_catalogue)
    assert info.value.problems == (
        f"{missing}: cannot read the policy file: No such file or directory",
    )


def test_top_level_must_be_a_mapping(tmp_path: Path, tiny_catalogue: Catalogue) -> None:
    """A list where the policy mapping belongs is refused at line 1."""
    assert _problems(tmp_path, tiny_catalogue, "- a\n- b\n") == (
        "1:1: Input should be a valid dictionary or instance of PolicyDocument",
    )


def test_policy_is_immutable() -> None:
    """A loaded policy cannot be changed in place; a new version means a new load."""
    with pytest.raises(AttributeError):
        POLICY.content_hash = "0" * 64  # type: ignore[misc]
    with pytest.raises(ValueError, match="frozen"):
        POLICY.document.version = "hacked"  # type: ignore[misc]
