"""Structured logs never carry personal values."""

from __future__ import annotations

import structlog
from structlog.testing import capture_logs

from consent_ledger.logs import _SAFE_KEYS, REDACTED, redact_personal_values
from consent_ledger.runtime import Custos


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


def test_registry_logs_carry_no_personal_values(custos: Custos) -> None:
    """Collecting, consenting and erasing log ids and category names, never the values."""
    with capture_logs() as logs:
        cid = custos.registry.register_client()
        custos.registry.collect(
            cid, {"user.name": "Wei Wang", "user.contact.email": "w@example.com"}, by="kyc_desk"
        )
        custos.registry.grant(cid, 1, ["kyc"])
        custos.registry.erase(cid)
    events = [e["event"] for e in logs]
    assert events == ["data_collected", "consent_changed", "client_erased"], events
    assert "Wei Wang" not in repr(logs) and "w@example.com" not in repr(logs)
    for entry in logs:
        assert set(entry) <= _SAFE_KEYS | {"log_level"}
