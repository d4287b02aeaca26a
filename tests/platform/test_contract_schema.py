"""The contract as tools read it: the OpenAPI document states the request rules, the API
keeps them exactly (what the schema admits is accepted, what it refuses is refused), every
path answers OPTIONS and wrong methods with its whole ``Allow``, and creates link to what
they created. Schemathesis checks the same at large (test_schemathesis*.py); these pin the
rules down one by one."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from app.core.regions import (
    PROVINCES,
    REGION_CODE_PATTERN,
    REGION_PREFIX_PATTERN,
    validate_region_code,
    validate_region_prefix,
)
from app.core.schemas import NO_NUL_PATTERN, TEXT_PATTERN, BoundedDecimal
from app.main import create_app
from app.people.nik import validate_nik
from app.people.schemas import NIK_PATTERN, PHONE_PATTERN, validate_phone
from tests.factories import API, COMMUNITIES, PROGRAMS, RECORDS, indices_url, make_program
from tests.helpers import assert_422_at, assert_problem


@pytest.fixture(scope="module")
def document(settings: Any) -> dict[str, Any]:
    schema: dict[str, Any] = create_app(settings).openapi()
    return schema


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


# --- methods and Allow ----------------------------------------------------------------------


def _allow(response: httpx.Response) -> set[str]:
    return {m.strip() for m in response.headers["allow"].split(",")}


async def test_options_and_wrong_methods_name_every_method_of_the_path(
    client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    for path, item in document["paths"].items():
        concrete = re.sub(r"{[^}]+}", "0190d2a4-0000-7000-8000-000000000000", path)
        documented = {method.upper() for method in item} | {"OPTIONS"}
        r = await client.options(concrete)
        assert r.status_code == 204, (path, r.status_code, r.text)
        assert _allow(r) == documented, path
        missing = next(m for m in ("PUT", "PATCH", "DELETE", "POST", "GET") if m not in documented)
        r = await client.request(missing, concrete)
        assert_problem(r, 405)
        assert _allow(r) == documented, (path, missing)


async def test_a_fixed_path_wins_over_the_template_beside_it(admin: httpx.AsyncClient) -> None:
    # /people/lookup and /participation-records/batch are POST only; the templates next to
    # them (/people/{person_id}) must not take other methods and answer 422 for the "id".
    for path in (f"{API}/people/lookup", f"{RECORDS}/batch"):
        for method in ("GET", "PATCH", "DELETE"):
            r = await admin.request(method, path)
            assert_problem(r, 405)
            assert _allow(r) == {"POST", "OPTIONS"}


async def test_unknown_path_is_still_404_for_options(client: httpx.AsyncClient) -> None:
    assert_problem(await client.options(f"{API}/no-such-thing"), 404)


# --- links ----------------------------------------------------------------------------------


def test_every_create_links_to_what_it_created(document: dict[str, Any]) -> None:
    by_id = {op["operationId"]: (method, path) for method, path, op in _operations(document)}
    # POST creates (a PUT creates at its own URL: nothing to link to).
    creates = [
        (path, op)
        for method, path, op in _operations(document)
        if "201" in op["responses"] and method == "post"
    ]
    assert creates
    for path, op in creates:
        links = op["responses"]["201"].get("links", {})
        targets = {by_id[link["operationId"]] for link in links.values()}
        item = next(
            p
            for p in document["paths"]
            if p.startswith(path + "/{") and p.count("/") == path.count("/") + 1
        )
        for method in ("get", "patch", "delete"):
            if method in document["paths"][item]:
                assert (method, item) in targets, (path, method, item)
        for link in links.values():
            target_path = by_id[link["operationId"]][1]
            assert set(re.findall(r"{([^}]+)}", target_path)) == set(link["parameters"]), link


# --- sort and cursor ------------------------------------------------------------------------


def test_every_list_documents_its_sort_values_and_cursor_shape(document: dict[str, Any]) -> None:
    lists = 0
    for _, path, op in _operations(document):
        params = {p["name"]: p["schema"] for p in op.get("parameters", [])}
        if "cursor" not in params:
            continue
        lists += 1
        cursor = params["cursor"]["anyOf"][0]
        assert cursor["pattern"] == "^[A-Za-z0-9_-]*$", path
        if path.endswith("/sync/changes"):
            continue  # a feed in commit order: nothing to sort by
        sort = params["sort"]["anyOf"][0]
        assert sort["type"] == "string" and sort["enum"], path
        assert all(f"-{v}" in sort["enum"] for v in sort["enum"] if not v.startswith("-"))
    assert lists >= 15


async def test_sort_outside_the_enum_is_422_without_the_value(admin: httpx.AsyncClient) -> None:
    r = await admin.get(COMMUNITIES, params={"sort": "population"})
    assert_422_at(r, "query", "sort")
    assert "population" not in r.text
    assert (await admin.get(COMMUNITIES, params={"sort": "-name"})).status_code == 200


async def test_cursor_outside_its_alphabet_is_422(admin: httpx.AsyncClient) -> None:
    assert_422_at(await admin.get(COMMUNITIES, params={"cursor": "a+b/c="}), "query", "cursor")
    assert (await admin.get(COMMUNITIES, params={"cursor": ""})).status_code == 200


# --- region codes ---------------------------------------------------------------------------


def _accepts(validator: Any, value: str) -> bool:
    try:
        validator(value)
    except ValueError:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(st.from_regex(REGION_CODE_PATTERN, fullmatch=True))
def test_every_code_the_pattern_admits_is_valid(code: str) -> None:
    assert _accepts(validate_region_code, code)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(REGION_PREFIX_PATTERN, fullmatch=True))
def test_every_prefix_the_pattern_admits_is_valid(prefix: str) -> None:
    assert _accepts(validate_region_prefix, prefix)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from([*PROVINCES, "00", "10", "99"]),
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 9999),
    st.integers(1, 4),
)
def test_pattern_and_validators_agree(p: str, r: int, d: int, v: int, parts: int) -> None:
    code = f"{p}.{r:02d}.{d:02d}.{v:04d}"
    assert bool(re.fullmatch(REGION_CODE_PATTERN, code)) == _accepts(validate_region_code, code)
    prefix = ".".join(code.split(".")[:parts])
    matched = bool(re.fullmatch(REGION_PREFIX_PATTERN, prefix))
    assert matched == _accepts(validate_region_prefix, prefix)


# --- decimals -------------------------------------------------------------------------------

DECIMALS = [
    BoundedDecimal(digits=0, places=4),
    BoundedDecimal(digits=3, places=2),
    BoundedDecimal(digits=9, places=2, positive=True),
    BoundedDecimal(digits=13, places=4, signed=True),
]


@pytest.mark.parametrize("rule", DECIMALS, ids=str)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_decimal_text_the_pattern_admits_is_accepted(rule: BoundedDecimal, data: Any) -> None:
    from typing import Annotated

    adapter: TypeAdapter[Decimal] = TypeAdapter(Annotated[Decimal, rule])
    text = data.draw(st.from_regex(rule.pattern, fullmatch=True))
    adapter.validate_json(json.dumps(text))


@pytest.mark.parametrize("rule", DECIMALS, ids=str)
def test_decimal_text_outside_the_pattern_is_refused(rule: BoundedDecimal) -> None:
    from typing import Annotated

    adapter: TypeAdapter[Decimal] = TypeAdapter(Annotated[Decimal, rule])
    for text in ("", " 1", "+1", "1e2", ".5", "1.", "0x1", "NaN", "1.00001", "-99999999999999"):
        assert not re.fullmatch(rule.pattern, text)
        with pytest.raises(ValueError):
            adapter.validate_json(json.dumps(text))


# --- text, numbers, dates -------------------------------------------------------------------


def test_text_patterns() -> None:
    assert re.fullmatch(TEXT_PATTERN, " a ") and re.fullmatch(NO_NUL_PATTERN, "")
    for blank in ("", " ", "\u3000\t", "a\x00"):
        assert not re.fullmatch(TEXT_PATTERN, blank)
    assert not re.fullmatch(NO_NUL_PATTERN, "\x00")


async def test_text_with_nul_is_422_naming_the_field(
    admin: httpx.AsyncClient, community_payload: Any
) -> None:
    r = await admin.post(COMMUNITIES, json=community_payload(description="a\x00b"))
    assert_422_at(r, "body", "description")
    r = await admin.post(COMMUNITIES, json=community_payload(potentials=["kopi", "\x00"]))
    assert_422_at(r, "body", "potentials")
    assert_422_at(await admin.get(COMMUNITIES, params={"q": "a\x00"}), "query", "q")


@pytest.mark.parametrize(
    ("field", "value"),
    [("latitude", False), ("latitude", "1.5"), ("population", 12.0), ("population", "12")],
)
async def test_numbers_are_json_numbers_of_their_kind(
    admin: httpx.AsyncClient, community_payload: Any, field: str, value: Any
) -> None:
    assert_422_at(
        await admin.post(COMMUNITIES, json=community_payload(**{field: value})), "body", field
    )


async def test_dates_are_iso_text_only(admin: httpx.AsyncClient, community: dict[str, Any]) -> None:
    program = {"title": "P", "community_ids": [community["id"]]}
    for bad in ("0", 0, "20250101"):
        r = await admin.post(PROGRAMS, json={**program, "start_date": bad})
        assert_422_at(r, "body", "start_date")
        assert_422_at(
            await admin.get(PROGRAMS, params={"starts_from": str(bad)}), "query", "starts_from"
        )
    r = await admin.post(PROGRAMS, json={**program, "start_date": "2025-01-31"})
    assert r.status_code == 201, r.text


async def test_index_values_as_text_follow_the_pattern(
    admin: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    url = indices_url(community["id"])
    for bad in ("0.12345", "1.5", " 0.5", "5e-1"):
        body = {"year": 2024, "iks": bad, "ike": "0.5", "ikl": "0.5"}
        assert_422_at(await admin.post(url, json=body), "body", "iks")
    body = {"year": 2024, "iks": "0.1234", "ike": 1, "ikl": 0.5}
    assert (await admin.post(url, json=body)).status_code == 201


# --- patch nulls, one context, a batch row that is no object ---------------------------------


def test_not_null_patch_fields_are_not_nullable(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    update = schemas["CommunityUpdate"]["properties"]
    assert "null" not in json.dumps(update["name"]) and "default" not in update["name"]
    assert {"type": "null"} in update["description"]["anyOf"]  # optional fields stay clearable
    assert "null" not in json.dumps(schemas["DevelopmentIndexUpdate"]["properties"]["iks"])


def test_record_create_says_exactly_one_context(document: dict[str, Any]) -> None:
    one_of = document["components"]["schemas"]["RecordCreate"]["oneOf"]
    assert sorted(branch["required"][0] for branch in one_of) == ["activity_id", "assessment_id"]


async def test_batch_row_with_an_object_as_external_id_is_answered(
    admin: httpx.AsyncClient,
) -> None:
    row = {"person_id": "0190d2a4-0000-7000-8000-000000000000", "date": "2025-01-01"}
    r = await admin.post(f"{RECORDS}/batch", json={"rows": [{**row, "external_id": {}}]})
    assert r.status_code in (200, 422), r.text
    result = (r.json().get("batch") or r.json())["results"][0]
    assert result["status"] == "error" and result["external_id"] is None


async def test_transitions_document_their_statuses(
    admin: httpx.AsyncClient, community: dict[str, Any], document: dict[str, Any]
) -> None:
    schemas = document["components"]["schemas"]
    for name in ("ProgramTransition", "PartnershipTransition", "AssessmentTransition"):
        assert "$ref" in json.dumps(schemas[name]["properties"]["to"]), name
    program = await make_program(admin, [community["id"]])
    r = await admin.post(f"{PROGRAMS}/{program['id']}/transitions", json={"to": "nowhere"})
    assert_422_at(r, "body", "to")


async def test_text_fits_its_maximum_as_sent_and_its_minimum_once_stripped(
    admin: httpx.AsyncClient, community_payload: Any
) -> None:
    padded = " " * 200 + "a"  # 201 characters sent, 1 once stripped: maxLength 200 is broken
    assert_422_at(
        await admin.post(COMMUNITIES, json=community_payload(name=padded)), "body", "name"
    )
    r = await admin.post(COMMUNITIES, json=community_payload(potentials=["kopi", padded]))
    assert_422_at(r, "body", "potentials", 1)
    r = await admin.post(COMMUNITIES, json=community_payload(name="\u3000\t "))
    assert_422_at(r, "body", "name")
    r = await admin.post(COMMUNITIES, json=community_payload(name="  Desa Baru  "))
    assert r.status_code == 201 and r.json()["name"] == "Desa Baru"


def test_text_patterns_count_the_minimum_once_stripped() -> None:
    from app.core.schemas import text_pattern

    ten = text_pattern(10)
    assert re.fullmatch(ten, " abcdefghij ") and re.fullmatch(ten, "a        b")
    assert not re.fullmatch(ten, "         a") and not re.fullmatch(ten, " abcdefghi ")


# --- NIK and phone --------------------------------------------------------------------------


def _valid(validator: Any, value: str) -> bool:
    try:
        validator(value)
    except ValueError:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(st.from_regex(NIK_PATTERN, fullmatch=True))
def test_every_nik_the_pattern_admits_is_valid(nik: str) -> None:
    assert _valid(validate_nik, nik)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from([*PROVINCES, "00", "99"]),
    st.text("0123456789", min_size=4, max_size=4),
    st.integers(0, 79),
    st.integers(0, 13),
    st.text("0123456789", min_size=6, max_size=6),
    st.sampled_from(["", " ", "  ", "\t"]),
)
def test_nik_pattern_and_validator_agree(
    province: str, region: str, day: int, month: int, rest: str, space: str
) -> None:
    nik = f"{province}{region}{day:02d}{month:02d}{rest}"
    for text in (nik, " ".join((nik[:6], nik[6:12], nik[12:])), f"{space}{nik}{space}"):
        assert bool(re.fullmatch(NIK_PATTERN, text)) == _valid(validate_nik, text), text


@settings(max_examples=300, deadline=None)
@given(st.from_regex(PHONE_PATTERN, fullmatch=True))
def test_every_phone_the_pattern_admits_is_valid(phone: str) -> None:
    assert _valid(validate_phone, phone)


@settings(max_examples=500, deadline=None)
@given(st.text("0123456789+-() \t\u3000x", max_size=20))
def test_phone_pattern_and_validator_agree(phone: str) -> None:
    assert bool(re.fullmatch(PHONE_PATTERN, phone)) == _valid(validate_phone, phone)
