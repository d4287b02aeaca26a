"""The reference teaches: every request body and every response of the OpenAPI document
carries an example that validates against its own schema, and every operation a description
(who may call it, its rules, its errors)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from app.core.examples import BINARY_MEDIA_TYPES

JSON_MEDIA = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")


@pytest.fixture(scope="module")
def document(app: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.openapi()
    return result


def _multiple_of(validator: Any, divisor: Any, instance: Any, schema: Any) -> Any:
    """``multipleOf`` on the decimal numbers as written (``0.6012`` is a multiple of
    ``0.0001``), not on their binary floating-point approximations."""
    number = isinstance(instance, int | float) and not isinstance(instance, bool)
    if number and Decimal(str(instance)) % Decimal(str(divisor)) != 0:
        yield jsonschema.ValidationError(f"{instance} is not a multiple of {divisor}")


Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"multipleOf": _multiple_of}
)


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    root = {**schema, "components": document["components"]}
    return Validator(root, format_checker=jsonschema.FormatChecker())


def _bodies(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(operation, media type, media entry) of every request body and 2xx response."""
    found = []
    for item in document["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            op = operation["operationId"]
            request = operation.get("requestBody", {}).get("content", {})
            found += [(f"{op} request", mt, e) for mt, e in request.items()]
            for status, response in operation.get("responses", {}).items():
                if status.startswith("2"):
                    content = response.get("content", {})
                    found += [(f"{op} {status}", mt, e) for mt, e in content.items()]
    return found


def _examples_of(document: dict[str, Any], entry: dict[str, Any]) -> list[Any]:
    if "example" in entry:
        return [entry["example"]]
    if "examples" in entry:
        return [e.get("value") for e in entry["examples"].values()]
    ref = entry.get("schema", {}).get("$ref", "")
    schema = document["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    return list(schema.get("examples", []))


def test_every_body_and_response_has_a_valid_example(document: dict[str, Any]) -> None:
    missing, invalid = [], []
    for where, media_type, entry in _bodies(document):
        if media_type in BINARY_MEDIA_TYPES:
            continue
        examples = [e for e in _examples_of(document, entry) if e not in (None, {}, [], "")]
        if not examples:
            missing.append(f"{where} {media_type}")
            continue
        if media_type not in JSON_MEDIA:
            if not all(isinstance(e, str) and e for e in examples):
                invalid.append(f"{where} {media_type}: the example is not text")
            continue
        validator = _validator(document, entry.get("schema", {}))
        for example in examples:
            for error in validator.iter_errors(example):
                path = "/".join(str(p) for p in error.absolute_path)
                invalid.append(f"{where} {media_type}: at '{path}': {error.message[:160]}")
    assert not missing, "no example:\n" + "\n".join(missing)
    assert not invalid, "examples that break their own schema:\n" + "\n".join(invalid)


def test_every_component_example_validates(document: dict[str, Any]) -> None:
    invalid = []
    for name, schema in document["components"]["schemas"].items():
        validator = _validator(document, {"$ref": f"#/components/schemas/{name}"})
        for example in schema.get("examples", []):
            for error in validator.iter_errors(example):
                path = "/".join(str(p) for p in error.absolute_path)
                invalid.append(f"{name}: at '{path}': {error.message[:160]}")
    assert not invalid, "\n".join(invalid)


def test_examples_speak_of_indonesian_villages(document: dict[str, Any]) -> None:
    text = str(document["components"]["schemas"])
    for word in ("Desa Sukamaju", "Siti Rahmawati", "32.05.10.2001", "12500000"):
        assert word in text, word


WHO = re.compile(
    r"(?i)who may call|\b(admins?|coordinators?|facilitators?|analysts?|partners?|anyone|"
    r"every role|any authenticated)\b"
)


def test_every_operation_says_who_may_call_it_its_rules_and_errors(
    document: dict[str, Any],
) -> None:
    lacking = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            text = operation.get("description") or ""
            where = f"{operation['operationId']} ({method.upper()} {path})"
            if len(text) < 60:
                lacking.append(f"{where}: no description")
            elif not WHO.search(text):
                lacking.append(f"{where}: does not say who may call it")
            elif path.startswith("/api/") and "**Errors" not in text:
                lacking.append(f"{where}: does not list its errors")
    assert not lacking, "\n".join(lacking)


def test_who_may_call_it_follows_the_access_policy(document: dict[str, Any]) -> None:
    create = document["paths"]["/api/v1/programs"]["post"]["description"]
    assert create.startswith("**Who may call it:** Admins and coordinators.")
    assert "- 409: " in create and "- 422: " in create
    people = document["paths"]["/api/v1/people"]["get"]["description"]
    assert "Admins, coordinators, facilitators and analysts" in people
