"""Sync and async clients over httpx, sharing request building and answer parsing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx

from custos_client._proofs import AsyncProofCalls, ProofCalls
from custos_client._stats import AsyncStatsCalls, StatsCalls
from custos_client._types import CustosProblem, Decision, Values

__all__ = ["AsyncCustosClient", "CustosClient"]

# Connection failures are retried by the transport (the request never reached Custos, so a
# retry cannot record a decision twice); 503 means not ready, and nothing was recorded.
_RETRY_STATUS = frozenset({503})


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None


def _decision_call(
    client_id: str,
    purpose: str,
    categories: Sequence[str],
    access: str,
    stage: str | None,
    proof_id: str | None,
) -> _Call:
    body: dict[str, Any] = {
        "client_id": client_id,
        "purpose": purpose,
        "categories": list(categories),
        "access": access,
    }
    if stage is not None:
        body["stage"] = stage
    if proof_id is not None:
        body["proof_id"] = proof_id
    return _Call("POST", "/v1/decisions", body)


def _batch_call(asks: Sequence[tuple[str, str, Sequence[str]]]) -> _Call:
    items = [{"client_id": c, "purpose": p, "categories": list(cats)} for c, p, cats in asks]
    return _Call("POST", "/v1/decisions:batch", {"items": items})


def _read_call(decision: Decision) -> _Call:
    return _Call(
        "GET",
        f"/v1/clients/{decision.client_id}/data",
        params={"decision_id": decision.decision_id},
    )


def _parse(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            problem = response.json()
        except ValueError:
            problem = {"code": "unexpected_response", "detail": response.text[:200]}
        raise CustosProblem(response.status_code, problem)
    return response.json()


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "User-Agent": "custos-client/1"}


class CustosClient(StatsCalls, ProofCalls):
    def __init__(
        self, base_url: str, api_key: str, *, timeout: float = 10.0, retries: int = 3
    ) -> None:
        self._retries = retries
        self._http = httpx.Client(
            base_url=base_url,
            headers=_headers(api_key),
            timeout=timeout,
            transport=httpx.HTTPTransport(retries=retries),
        )

    def _send(self, call: _Call) -> Any:
        for attempt in range(self._retries + 1):
            response = self._http.request(
                call.method, call.path, json=call.json, params=call.params
            )
            if response.status_code not in _RETRY_STATUS or attempt == self._retries:
                return _parse(response)
            time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_json(self, method: str, path: str, json: Any = None) -> Any:
        return self._send(_Call(method, path, json))

    def decide(
        self,
        client_id: str,
        purpose: str,
        categories: Sequence[str],
        *,
        access: str = "row",
        stage: str | None = None,
        proof_id: str | None = None,
    ) -> Decision:
        """``proof_id``: a proof verified by ``POST /v1/proofs:verify``, to pass a proof
        rule in ``stage`` (a deny ``proof_required`` carries the ``proof_request``)."""
        call = _decision_call(client_id, purpose, categories, access, stage, proof_id)
        body = self._send(call)
        return Decision.from_json(client_id, body)

    def decide_many(self, asks: Sequence[tuple[str, str, Sequence[str]]]) -> list[Decision]:
        body = self._send(_batch_call(asks))
        return [Decision.from_json(a[0], d) for a, d in zip(asks, body["decisions"], strict=True)]

    def read(self, decision: Decision) -> Values:
        """The values an allow decision covers, with their instructions (raises
        CustosProblem for anything else, e.g. ``obligation_forbids`` for an aggregate-only
        allow or ``consent_withdrawn`` once the client has withdrawn)."""
        return Values(self._send(_read_call(decision)))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncCustosClient(AsyncStatsCalls, AsyncProofCalls):
    def __init__(
        self, base_url: str, api_key: str, *, timeout: float = 10.0, retries: int = 3
    ) -> None:
        self._retries = retries
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=_headers(api_key),
            timeout=timeout,
            transport=httpx.AsyncHTTPTransport(retries=retries),
        )

    async def _send(self, call: _Call) -> Any:
        for attempt in range(self._retries + 1):
            response = await self._http.request(
                call.method, call.path, json=call.json, params=call.params
            )
            if response.status_code not in _RETRY_STATUS or attempt == self._retries:
                return _parse(response)
            await asyncio.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_json(self, method: str, path: str, json: Any = None) -> Any:
        return await self._send(_Call(method, path, json))

    async def decide(
        self,
        client_id: str,
        purpose: str,
        categories: Sequence[str],
        *,
        access: str = "row",
        stage: str | None = None,
        proof_id: str | None = None,
    ) -> Decision:
        body = await self._send(
            _decision_call(client_id, purpose, categories, access, stage, proof_id)
        )
        return Decision.from_json(client_id, body)

    async def decide_many(self, asks: Sequence[tuple[str, str, Sequence[str]]]) -> list[Decision]:
        body = await self._send(_batch_call(asks))
        return [Decision.from_json(a[0], d) for a, d in zip(asks, body["decisions"], strict=True)]

    async def read(self, decision: Decision) -> Values:
        return Values(await self._send(_read_call(decision)))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
