"""Signed consent receipts, after the Kantara Consent Receipt v1.1 fields (which
ISO/IEC TS 27560 builds on), signed with Ed25519 over their RFC 8785 canonical bytes."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

import orjson

from consent_ledger.catalogue import Catalogue
from consent_ledger.consent import Consent
from consent_ledger.encoding import format_timestamp
from consent_ledger.firm import FirmDetails, default_firm_details
from consent_ledger.note import NoteSigner, NoteVerifier

__all__ = ["build_receipt", "receipt_signing_bytes", "verify_receipt"]


def receipt_signing_bytes(receipt: dict[str, Any]) -> bytes:
    """The bytes the signature covers: the receipt without ``signature``, canonically."""
    unsigned = {k: v for k, v in receipt.items() if k != "signature"}
    return orjson.dumps(unsigned, option=orjson.OPT_SORT_KEYS)


def build_receipt(
    catalogue: Catalogue,
    consent: Consent,
    ledger_index: int,
    signer: NoteSigner,
    now: datetime,
    language: str = "en",
    firm: FirmDetails | None = None,
) -> dict[str, Any]:
    """A signed receipt in ``language``; the firm's details come from
    ``policies/firm_details.yaml`` (or ``firm``) in that language."""
    lang = "zh" if language.startswith("zh") else "en"
    details = firm or default_firm_details()
    purposes = [
        {
            "purpose": getattr(catalogue.purpose(p).name, lang),
            "purposeKey": p,
            "purposeCategory": [p],
            "consentType": "EXPLICIT",
            "piiCategory": [c.key for c in catalogue.categories_up_to(consent.level)],
            "primaryPurpose": p == "kyc",
            "termination": (
                "withdrawal at any time, or "
                + (format_timestamp(consent.expires_at) if consent.expires_at else "no expiry")
            ),
            "thirdPartyDisclosure": False,
        }
        for p in sorted(consent.purposes)
    ]
    receipt: dict[str, Any] = {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": "CN; EU",
        "consentTimestamp": int(consent.granted_at.timestamp()),
        "collectionMethod": details.text("collection_method", lang),
        "consentReceiptID": str(uuid.uuid4()),
        "publicKey": signer.verifier_key(),
        "language": lang,
        "piiPrincipalId": consent.client_id,
        "piiControllers": [details.controller_in(lang)],
        "policyUrl": details.text("policy_url", lang),
        "services": [{"service": details.text("service", lang), "purposes": purposes}],
        "sensitive": consent.level >= 3,
        "spiCat": ["financial"] if consent.level >= 2 else [],
        "authorizationLevel": consent.level,
        "ledgerIndex": ledger_index,
        "issuedAt": format_timestamp(now),
    }
    sig = signer.private_key.sign(receipt_signing_bytes(receipt))
    receipt["signature"] = {
        "alg": "Ed25519",
        "keyId": signer.verifier_key(),
        "value": base64.b64encode(sig).decode(),
        "signedBytes": "RFC 8785 canonical JSON of the receipt without this member",
    }
    return receipt


def verify_receipt(receipt: dict[str, Any], verifier_key: str) -> bool:
    verifier = NoteVerifier.parse(verifier_key)
    try:
        sig = base64.b64decode(receipt["signature"]["value"], validate=True)
    except (KeyError, TypeError, ValueError):
        return False
    return verifier.verify(receipt_signing_bytes(receipt), sig)
