"""The committed OpenAPI document is what the app serves; every operation documents errors."""

import json

from app.cli import OPENAPI_PATH, render_openapi


def test_committed_openapi_matches_the_app():
    assert OPENAPI_PATH.read_text() == render_openapi(), "run `berdaya openapi` and commit"


def test_every_operation_has_an_id_and_documented_errors():
    document = json.loads(render_openapi())
    assert document["openapi"].startswith("3.1")
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation.get("operationId"), f"{method} {path} has no operationId"
            if path.startswith("/api/v1"):
                errors = [s for s in operation["responses"] if s[0] in "45"]
                assert errors, f"{method} {path} documents no error response"
                for status in errors:
                    content = operation["responses"][status].get("content", {})
                    assert "application/problem+json" in content, f"{method} {path} {status}"


async def test_served_document_is_the_same(client):
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == json.loads(render_openapi())
