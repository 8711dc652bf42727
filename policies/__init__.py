"""Policy decisions: the firm's policy as data, its loader, and a pure decision engine.

    policy = load_policy(DEFAULT_POLICY_PATH, catalogue)
    compiled = compile_policy(policy, catalogue)
    decision = decide(compiled, consent, request)

See policies/README.md for the file format, the rule semantics, reason codes and obligations.
``policies.cedar`` and ``policies.workload`` (the Cedar cross-check and its workloads) are
not re-exported here: they are for tests and benchmarks.
"""

from policies.compiled import CompiledPolicy, compile_policy
from policies.decision import (
    Access,
    App,
    CategoryDecision,
    Context,
    Decision,
    Obligation,
    ObligationKind,
    Outcome,
    ReasonCode,
    Request,
    Resource,
)
from policies.dpv import dpv_export
from policies.engine import decide
from policies.errors import (
    InvalidDecisionRequest,
    PolicyError,
    PolicyInvalid,
    UnknownCategory,
    UnknownDepartment,
    UnknownPurpose,
)
from policies.loader import DEFAULT_POLICY_PATH, load_policy, parse_policy
from policies.model import Policy

__all__ = [
    "DEFAULT_POLICY_PATH",
    "Access",
    "App",
    "CategoryDecision",
    "CompiledPolicy",
    "Context",
    "Decision",
    "InvalidDecisionRequest",
    "Obligation",
    "ObligationKind",
    "Outcome",
    "Policy",
    "PolicyError",
    "PolicyInvalid",
    "ReasonCode",
    "Request",
    "Resource",
    "UnknownCategory",
    "UnknownDepartment",
    "UnknownPurpose",
    "compile_policy",
    "decide",
    "dpv_export",
    "load_policy",
    "parse_policy",
]
