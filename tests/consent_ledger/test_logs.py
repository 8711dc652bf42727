"""Structured logs never carry personal values."""

from __future__ import annotations

import structlog
from structlog.testing import capture_logs

from consent_ledger.logs import REDACTED, redact_personal_values


def test_unknown_keys_are_redacted() -> None:
    """Only allow-listed keys keep their values; a name or an email never passes."""
    with capture_logs(processors=[redact_personal_values]) as logs:
        structlog.get_logger().info(
            "collected",
            client_id="c_1",
            category="user.name",
            value="Wei Wang",
            email="wei@example.com",
        )
    (entry,) = logs
    assert entry["client_id"] == "c_1" and entry["category"] == "user.name"
    assert entry["value"] == REDACTED and entry["email"] == REDACTED
    assert "Wei Wang" not in repr(logs)
