"""Structured JSON logging, configured once, with personal values redacted.

Only keys on an allow-list pass through with their value; anything else that looks like it
could carry a personal value (names, contact details, free-form ``value``) is replaced by
``"[redacted]"``. Redaction is by key, not by content, so it cannot be fooled by formatting.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

__all__ = ["REDACTED", "configure_logging", "redact_personal_values"]

REDACTED = "[redacted]"

# Keys whose values are never personal: ids are pseudonymous, the rest are names from the
# catalogue or technical figures.
_SAFE_KEYS = frozenset(
    {
        "event",
        "level",
        "log_level",
        "timestamp",
        "logger",
        "client_id",
        "subject",
        "entry_type",
        "index",
        "size",
        "tree_size",
        "count",
        "purpose",
        "purposes",
        "category",
        "categories",
        "department",
        "app_id",
        "decision_id",
        "outcome",
        "reason",
        "code",
        "path",
        "method",
        "status",
        "duration_ms",
        "trace_id",
        "database",
        "origin",
        "root",
        "error",
        "exc_info",
        "exception",
    }
)


def redact_personal_values(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key not in _SAFE_KEYS:
            event_dict[key] = REDACTED
    return event_dict


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr; idempotent."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_personal_values,
            structlog.processors.format_exc_info,
            # orjson: every API request writes a line, and the stdlib encoder is 5x slower.
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.BytesLoggerFactory(file=sys.stderr.buffer),
        cache_logger_on_first_use=False,
    )
