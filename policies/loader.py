"""Read a policy file, validate it against the catalogue, and say exactly where it is wrong.

The YAML is composed into nodes first, so every problem — a syntax error, a duplicate key,
a pydantic error, a name the catalogue does not know — is reported as ``FILE:LINE:COL: what``
at the node that is wrong. All problems found are reported together, in file order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from consent_ledger.catalogue import Catalogue
from policies._checks import Loc, semantic_problems
from policies.errors import PolicyInvalid
from policies.model import Policy, PolicyDocument

__all__ = ["DEFAULT_POLICY_PATH", "load_policy", "parse_policy", "read_file", "validate_yaml"]

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent / "firm.yaml"

_Model = TypeVar("_Model", bound=BaseModel)


def read_file(path: Path, what: str) -> str:
    """The text of ``path`` (``what`` names it: "policy file"); raises ``PolicyInvalid``."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise PolicyInvalid((f"{path}: cannot read the {what}: {reason}",)) from exc


def validate_yaml(text: str, source: str, model: type[_Model]) -> tuple[_Model, _Where]:
    """``text`` as a ``model`` document, and the map from its locations to the YAML nodes
    for the caller's own checks. Syntax errors, duplicate keys and pydantic errors raise
    ``PolicyInvalid`` with ``FILE:LINE:COL`` of each."""
    root, data = _compose(text, source)
    where = _Where(source, root)
    dupes = list(_duplicate_keys(root))
    if dupes:
        raise PolicyInvalid(tuple(f"{source}:{line}:{col}: {msg}" for line, col, msg in dupes))
    try:
        return model.model_validate(data), where
    except ValidationError as exc:
        raise PolicyInvalid(where.pydantic(exc)) from None


def load_policy(path: Path, catalogue: Catalogue) -> Policy:
    """Load and check ``path``; raises ``PolicyInvalid`` listing every problem with its line."""
    return parse_policy(read_file(path, "policy file"), str(path), catalogue)


def parse_policy(text: str, source: str, catalogue: Catalogue) -> Policy:
    """Like ``load_policy`` for text already read; ``source`` names it in messages."""
    document, where = validate_yaml(text, source, PolicyDocument)
    problems = [
        where.problem(loc, msg, key="[key]" in loc)
        for loc, msg in semantic_problems(document, catalogue)
    ]
    if problems:
        raise PolicyInvalid(where.ordered(problems))
    return Policy.from_document(document, source)


def _compose(text: str, source: str) -> tuple[yaml.Node, Any]:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise PolicyInvalid((f"{source}:1:1: the policy file is empty",))
        return root, loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise PolicyInvalid((f"{source}:{line}:{col}: not valid YAML: {exc.problem}",)) from None
    except yaml.YAMLError as exc:
        raise PolicyInvalid((f"{source}:1:1: not valid YAML: {exc}",)) from None
    finally:
        loader.dispose()


def _duplicate_keys(node: yaml.Node) -> Iterator[tuple[int, int, str]]:
    """YAML keeps the last of two equal keys silently; a policy must not say a thing twice."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                first = seen.get(key.value)
                if first is not None:
                    mark = key.start_mark
                    msg = f"duplicate key {key.value!r} (first given at line {first})"
                    yield mark.line + 1, mark.column + 1, msg
                else:
                    seen[key.value] = key.start_mark.line + 1
            yield from _duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(item)


class _Where:
    """Maps a location inside the validated document (a pydantic ``loc``) to a YAML node."""

    def __init__(self, source: str, root: yaml.Node) -> None:
        self.source = source
        self.root = root

    def node(self, loc: Loc, *, key: bool = False) -> yaml.Node:
        """The deepest node on ``loc``; parts that are not in the file (a missing key, a
        pydantic union tag) leave it at their parent. With ``key`` the last mapping step
        lands on the key rather than its value (for an unknown or badly named key)."""
        node = self.root
        for n, part in enumerate(loc):
            last = n == len(loc) - 1 or loc[n + 1] == "[key]"
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                        node = k if key and last else v
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                node = node.value[part] if 0 <= part < len(node.value) else node
        return node

    def problem(self, loc: Loc, msg: str, *, key: bool = False, shown: Loc | None = None) -> str:
        """``FILE:LINE:COL: path: msg`` for the node at ``loc``; ``shown`` is the path printed
        when it differs (an unknown key is shown as a problem of the mapping holding it)."""
        mark = self.node(loc, key=key).start_mark
        path = _dotted(loc if shown is None else shown)
        return f"{self.source}:{mark.line + 1}:{mark.column + 1}: {path}{msg}"

    def pydantic(self, exc: ValidationError) -> tuple[str, ...]:
        errors = exc.errors(include_url=False)
        problems = []
        for err in errors:
            loc: Loc = tuple(err["loc"])
            kind = err["type"]
            if kind == "too_short" and any(_under(loc, other["loc"]) for other in errors):
                continue  # a list emptied by its own failing items: the items say it better
            if kind == "extra_forbidden":
                msg = f"unknown key {loc[-1]!r}"
                problems.append(self.problem(loc, msg, key=True, shown=loc[:-1]))
            elif kind == "missing":
                problems.append(self.problem(loc[:-1], f"missing key {loc[-1]!r}"))
            else:
                msg = str(err["msg"]).removeprefix("Value error, ")
                problems.append(self.problem(loc, msg, key="[key]" in loc))
        return self.ordered(problems)

    @staticmethod
    def ordered(problems: list[str]) -> tuple[str, ...]:
        def position(p: str) -> tuple[int, int]:
            # "SOURCE:LINE:COL: ..." — SOURCE itself may hold colons, so read from the right.
            head = p.split(": ", 1)[0]
            line, col = head.rsplit(":", 2)[1:]
            return int(line), int(col)

        return tuple(sorted(dict.fromkeys(problems), key=position))


def _under(parent: Loc, loc: tuple[int | str, ...]) -> bool:
    return len(loc) > len(parent) and tuple(loc[: len(parent)]) == parent


def _dotted(loc: Loc) -> str:
    parts = [p for p in loc if p != "[key]"]
    if not parts:
        return ""
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text + ": "
