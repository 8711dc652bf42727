"""The OpenAPI document the service publishes is valid OpenAPI, by an independent validator."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from tests.api.conftest import World


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_published_openapi_document_validates(world: World) -> None:
    response = world.http.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)  # raises, naming the path, on any violation of the OpenAPI 3.1 schema
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    # The decisions fast lane is not a second API: its operations are the documented ones.
    assert {"/v1/decisions", "/v1/decisions:batch"} <= set(paths)
    assert "requestBody" in paths["/v1/decisions"]["post"]
