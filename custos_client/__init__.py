"""A small typed client for the firm's apps: ask Custos before touching client data.

    from custos_client import CustosClient

    with CustosClient("http://127.0.0.1:8000", api_key) as custos:
        d = custos.decide("c_0123456789abcdef", "investment_advice",
                          ["user.financial.assets_under_management"])
        if d.allowed:
            values = custos.read(d)

``AsyncCustosClient`` offers the same calls with ``await``. Errors come back as
``CustosProblem`` carrying the RFC 9457 problem document.
"""

from custos_client._client import AsyncCustosClient, CustosClient
from custos_client._proofs import PendingProof, ProofVerdict
from custos_client._stats import StatsBudget, StatsPreview, StatsRelease
from custos_client._types import CustosProblem, Decision, Values

__all__ = [
    "AsyncCustosClient",
    "CustosClient",
    "CustosProblem",
    "Decision",
    "PendingProof",
    "ProofVerdict",
    "StatsBudget",
    "StatsPreview",
    "StatsRelease",
    "Values",
]
