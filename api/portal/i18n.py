"""The portal's two languages: English and Simplified Chinese.

The language is the ``lang`` cookie if the client chose one with the switch, else the best
match in Accept-Language, else English. Level, category and purpose names come from the
catalogue (which carries both languages); every other word is in ``messages.yaml``, kept
as data so that a translator can work on it without reading Python.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from consent_ledger.catalogue import Text

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "MESSAGES",
    "Translator",
    "format_time",
    "load_messages",
    "localized",
    "negotiate",
    "translator",
]

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"
MESSAGES_PATH = Path(__file__).resolve().parent / "messages.yaml"

Translator = Callable[..., str]

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def load_messages(path: Path = MESSAGES_PATH) -> Mapping[str, Mapping[str, str]]:
    """key → {en, zh}; refuses a file where any key lacks a language, so no page can show
    half-translated text."""
    raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of message keys")
    for key, texts in raw.items():
        if not isinstance(key, str) or not isinstance(texts, dict):
            raise ValueError(f"{path}: {key!r} is not a key with en and zh texts")
        missing = [lang for lang in LANGUAGES if not isinstance(texts.get(lang), str)]
        if missing:
            raise ValueError(f"{path}: {key} has no text for {', '.join(missing)}")
    return raw


MESSAGES = load_messages()


def translator(lang: str) -> Translator:
    """``t(key, **values)`` in ``lang``; an unknown key shows itself, so a gap is visible."""
    column = lang if lang in LANGUAGES else DEFAULT_LANGUAGE

    def t(key: str, **values: object) -> str:
        texts = MESSAGES.get(key)
        if texts is None:
            return key
        text = texts[column]
        return text.format(**values) if values else text

    return t


def localized(text: Text, lang: str) -> str:
    """A catalogue name or description in ``lang``."""
    return text.zh if lang == "zh" else text.en


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The chosen language: the ``lang`` cookie, else the best Accept-Language match."""
    if cookie in LANGUAGES:
        return str(cookie)
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for position, part in enumerate((accept_language or "")[:1000].split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        # Earlier tags win ties: the header lists preferences in order.
        q -= position * 1e-6
        if q > best_q:
            best, best_q = primary, q
    return best


def format_time(value: str | datetime | None, lang: str) -> str:
    """A time for people: '1 Jun 2026, 09:00 UTC' or '2026年6月1日 09:00 UTC'."""
    if value is None:
        return ""
    t = datetime.fromisoformat(value) if isinstance(value, str) else value
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    if lang == "zh":
        return f"{t.year}年{t.month}月{t.day}日 {t.hour:02d}:{t.minute:02d} UTC"
    return f"{t.day} {_MONTHS[t.month - 1]} {t.year}, {t.hour:02d}:{t.minute:02d} UTC"
