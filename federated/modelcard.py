"""The saved model and its card.

The model file is a numpy ``.npz`` holding the parameters (``w``: features + bias by
classes), the feature names and the class names, so it can be used with no other file; its
SHA-256 is what the ``fl_model`` ledger entry records. Beside it, ``<name>.card.json`` says
what the model was trained on and under which rules: the consent filter, the client counts
per department (counts only), the DP parameters, the metrics and the ledger indices of the
run's entries, so an auditor can check the card against the ledger.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from federated.features import CLASSES, FEATURE_NAMES, GROUPS
from federated.model import Params

__all__ = ["CONSENT_FILTER", "save_model", "write_card"]

CONSENT_FILTER = {
    "purpose": "model_training",
    "channel": "federated_training",
    "rule": (
        "a client trains only if the policy engine allows its department's node to use the "
        "profile group (level 2, with the recorded risk level) for model_training, and the "
        "allow is redeemed on the federated_training channel at load time; every other "
        "group is used only where its own decision allows it, else marked missing"
    ),
    "groups": {g.name: {"level": g.level, "categories": list(g.categories)} for g in GROUPS},
}


def save_model(path: Path, params: Params) -> str:
    """Write the model file; its SHA-256 (hex)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        np.savez(
            f,
            w=params,
            features=np.array(FEATURE_NAMES),
            classes=np.array(CLASSES),
        )
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_card(path: Path, card: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
