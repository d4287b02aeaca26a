"""Languages (API.md section 2): every message and label in English and Indonesian, chosen by
Accept-Language, with Content-Language on answers and machine fields unchanged."""

from __future__ import annotations

import ast
import string
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core import errors
from app.core.i18n import (
    LABELS,
    STATUS_TITLES,
    VALIDATION,
    M,
    Message,
    document_enums,
    label,
    messages,
    missing_labels,
    negotiate,
    render,
    validation_message,
)
from tests.factories import API, COMMUNITIES, PROGRAMS, make_program, move
from tests.helpers import assert_problem

APP = Path(__file__).resolve().parents[2] / "app"
LABELS_URL = f"{API}/labels"
ID = {"Accept-Language": "id"}

# Texts that are the same in both languages on purpose (a proper name, a code).
SAME_IN_BOTH = {"program_not_found"}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


# --- the catalogue --------------------------------------------------------------------------


def test_every_message_has_both_languages() -> None:
    problems = []
    keys = set()
    for template in messages():
        keys.add(template.key)
        en, id_ = template.text.en, template.text.id
        if not en.strip() or not id_.strip():
            problems.append(f"{template.key}: a language is empty")
            continue
        if _fields(en) != _fields(id_):
            problems.append(f"{template.key}: placeholders differ: {en!r} / {id_!r}")
        if en == id_ and template.key not in SAME_IN_BOTH:
            problems.append(f"{template.key}: the Indonesian text is the English one")
        for placeholder, vocabulary in template.labels.items():
            if placeholder not in _fields(en):
                problems.append(f"{template.key}: labels name no placeholder {placeholder}")
            if vocabulary not in LABELS:
                problems.append(f"{template.key}: no vocabulary {vocabulary} in LABELS")
    # A text known in English is translated one way (plain strings are looked up by it).
    indonesian: dict[str, set[str]] = {}
    for template in messages():
        indonesian.setdefault(template.text.en, set()).add(template.text.id)
    problems += [
        f"{en!r} has two translations: {ids}" for en, ids in indonesian.items() if len(ids) > 1
    ]
    assert len(keys) > 100  # every message of the API, not a sample
    assert not problems, "\n".join(problems)


def test_every_label_title_and_validation_message_has_both_languages() -> None:
    problems = [
        f"LABELS[{enum!r}][{value!r}]"
        for enum, values in LABELS.items()
        for value, text in values.items()
        if not text.en.strip() or not text.id.strip()
    ]
    problems += [f"STATUS_TITLES[{s}]" for s, t in STATUS_TITLES.items() if not t.en or not t.id]
    for kind, text in VALIDATION.items():
        if not text.en or not text.id or _fields(text.en) != _fields(text.id):
            problems.append(f"VALIDATION[{kind!r}]")
    assert not problems, "missing or inconsistent translations: " + ", ".join(problems)


def _literal_messages() -> list[str]:
    """Raise sites that pass a message as a string literal instead of a catalogue key."""
    raisers = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.AppError)
    } | {"RowProblem"}
    found = []
    for path in sorted(APP.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in raisers:
                continue
            texts = [a for a in node.args if isinstance(a, ast.Constant | ast.JoinedStr)]
            if any(isinstance(a, ast.JoinedStr) or isinstance(a.value, str) for a in texts):
                where = path.relative_to(APP.parent)
                found.append(f"{where}:{node.lineno}: {ast.unparse(node)[:90]}")
    return found


def test_every_raised_message_comes_from_the_catalogue() -> None:
    """A message written in place has no Indonesian: add it to ``app.core.i18n.M``."""
    literal = _literal_messages()
    assert not literal, "messages not in app/core/i18n.py (class M):\n" + "\n".join(literal)


def test_messages_render_with_their_labels() -> None:
    message = M.program_frozen(status="completed")
    assert message == "the program is completed: it can no longer change"  # English as str
    assert message.render("id") == "program berstatus selesai: tidak dapat diubah lagi"
    denied = M.role_may_not(role="analyst", action="write", resource="communities")
    assert denied.render("id") == "peran analis tidak boleh mengubah komunitas"
    assert render("community not found", "id") == "komunitas tidak ditemukan"  # known text
    assert render("some text of nobody", "id") == "some text of nobody"
    assert isinstance(M.community_not_found, Message)
    assert label("ProgramStatus", "unknown-value", "id") == "unknown-value"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("id", "id"),
        ("id-ID,id;q=0.9,en-US;q=0.8,en;q=0.7", "id"),
        ("en-US,en;q=0.9,id;q=0.8", "en"),
        ("fr-FR, id;q=0.5", "id"),
        ("in", "id"),
        ("fr", "en"),
        ("*", "en"),
        ("id;q=0, en", "en"),
        ("en;q=0.2, id;q=0.8", "id"),
        ("id;q=abc", "en"),
    ],
)
def test_accept_language_negotiation(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


def test_validation_messages_by_type() -> None:
    missing = {"type": "missing", "msg": "Field required", "loc": ("body", "name")}
    assert validation_message(missing, "id") == "Wajib diisi"
    assert validation_message(missing, "en") == "Field required"
    short = {"type": "string_too_short", "msg": "x", "ctx": {"min_length": 3}}
    assert validation_message(short, "id") == "Teks harus berisi paling sedikit 3 karakter"
    choice = {"type": "enum", "msg": "x", "ctx": {"expected": "'a', 'b' or 'c'"}}
    assert validation_message(choice, "id") == "Masukan harus salah satu dari 'a', 'b' atau 'c'"
    unknown = {"type": "some_new_type", "msg": "Something new"}
    assert validation_message(unknown, "en") == "Something new"
    assert validation_message(unknown, "id") == "Nilai tidak valid"
    custom = {"type": "value_error", "msg": "Value error, a custom text", "ctx": {}}
    assert validation_message(custom, "id") == "Nilai tidak valid"


# --- every enum of the OpenAPI document has labels --------------------------------------------


def test_every_enum_value_of_the_openapi_document_has_labels(app: Any) -> None:
    document = app.openapi()
    enums = document_enums(document)
    assert {"ProgramStatus", "ActivityKind", "Role", "sort", "lang"} <= set(enums)
    missing = missing_labels(document)
    assert not missing, (
        "enum values without a label in both languages (add them to LABELS in "
        "app/core/i18n.py):\n" + "\n".join(missing)
    )


# --- over HTTP --------------------------------------------------------------------------------


async def test_labels_in_both_languages(client: httpx.AsyncClient, app: Any) -> None:
    r = await client.get(LABELS_URL, params={"lang": "id"})
    assert r.status_code == 200, r.text
    assert r.headers["content-language"] == "id"
    body = r.json()
    assert body["lang"] == "id"
    assert body["enums"]["ActivityKind"]["deliberation"] == "Musyawarah"
    assert body["enums"]["ServiceAccountCreate.role"]["analyst"] == "Analis"
    assert body["enums"]["sort"]["-created_at"] == "Tanggal dibuat, turun"
    assert set(body["enums"]) == set(document_enums(app.openapi()))

    english = await client.get(LABELS_URL)  # no token needed; English by default
    assert english.status_code == 200
    assert english.headers["content-language"] == "en"
    assert english.json()["enums"]["ActivityKind"]["deliberation"] == "Deliberation"
    # The same values (machine fields) in both languages.
    assert {k: set(v) for k, v in english.json()["enums"].items()} == {
        k: set(v) for k, v in body["enums"].items()
    }

    by_header = await client.get(LABELS_URL, headers={"Accept-Language": "id-ID,id;q=0.9"})
    assert by_header.json() == body
    assert by_header.headers["etag"] == r.headers["etag"]
    cached = await client.get(
        LABELS_URL, params={"lang": "id"}, headers={"If-None-Match": r.headers["etag"]}
    )
    assert cached.status_code == 304

    wrong = await client.get(LABELS_URL, params={"lang": "fr"}, headers=ID)
    problem = assert_problem(wrong, 422)
    assert wrong.headers["content-language"] == "id"
    assert problem["title"] == "Data Tidak Dapat Diproses"
    assert problem["errors"][0]["loc"] == ["query", "lang"]
    assert problem["errors"][0]["message"] == "Masukan harus salah satu dari 'id' atau 'en'"


async def test_404_answers_in_indonesian(admin: httpx.AsyncClient) -> None:
    url = f"{COMMUNITIES}/00000000-0000-4000-8000-000000000000"
    english = assert_problem(await admin.get(url), 404)
    r = await admin.get(url, headers=ID)
    indonesian = assert_problem(r, 404)
    assert r.headers["content-language"] == "id"
    assert indonesian["title"] == "Tidak Ditemukan"
    assert indonesian["detail"] == "komunitas tidak ditemukan"
    assert english["detail"] == "community not found"
    for field in ("type", "status", "instance"):
        assert indonesian[field] == english[field]

    route = await admin.get(f"{API}/no-such-thing", headers=ID)
    assert assert_problem(route, 404)["detail"] == "sumber daya atau rute tidak ada"
    assert route.headers["content-language"] == "id"


async def test_409_answers_in_indonesian(
    coordinator: httpx.AsyncClient, make_community: Any
) -> None:
    community = await make_community()
    program = await make_program(coordinator, [community["id"]])
    english = assert_problem(await move(coordinator, PROGRAMS, program["id"], "completed"), 409)
    r = await move(coordinator, PROGRAMS, program["id"], "completed", headers=ID)
    indonesian = assert_problem(r, 409)
    assert r.headers["content-language"] == "id"
    assert indonesian["title"] == "Konflik"
    # The states by their labels in the text; `allowed` keeps the machine values.
    assert indonesian["detail"].startswith("tidak dapat berpindah dari 'draf' ke 'selesai'")
    assert "diajukan" in indonesian["detail"]
    assert english["detail"].startswith("cannot move from 'draft' to 'completed'")
    assert indonesian["allowed"] == english["allowed"] and english["allowed"]
    assert indonesian["type"] == english["type"]
    assert (await coordinator.get(f"{PROGRAMS}/{program['id']}")).json()["status"] == "draft"


async def test_422_answers_in_indonesian(admin: httpx.AsyncClient, community_payload: Any) -> None:
    body = community_payload(kind="planet", population=-5, region_code="99.99.99.9999")
    del body["name"]
    english = assert_problem(await admin.post(COMMUNITIES, json=body), 422)
    r = await admin.post(COMMUNITIES, json=body, headers={"Accept-Language": "id;q=1, en;q=0.5"})
    indonesian = assert_problem(r, 422)
    assert r.headers["content-language"] == "id"
    assert indonesian["title"] == "Data Tidak Dapat Diproses"
    assert indonesian["detail"] == "permintaan tidak valid"
    messages_by_loc = {tuple(e["loc"]): e["message"] for e in indonesian["errors"]}
    assert messages_by_loc[("body", "name")] == "Wajib diisi"
    assert messages_by_loc[("body", "kind")].startswith("Masukan harus salah satu dari 'desa'")
    assert "Masukan harus" in messages_by_loc[("body", "population")]
    assert messages_by_loc[("body", "region_code")] in {
        "kode provinsi tidak dikenal",
        "harus berupa kode Kemendagri PP.RR.DD.VVVV, mis. 32.04.12.2001",
    }
    # Machine fields are the same in both languages.
    assert [(e["loc"], e["type"]) for e in indonesian["errors"]] == [
        (e["loc"], e["type"]) for e in english["errors"]
    ]
    assert indonesian["type"] == english["type"]
    assert english["detail"] == "the request is not valid"


async def test_answers_carry_content_language(admin: httpx.AsyncClient) -> None:
    r = await admin.get(COMMUNITIES)
    assert r.status_code == 200 and r.headers["content-language"] == "en"
    r = await admin.get(COMMUNITIES, headers=ID)
    assert r.status_code == 200 and r.headers["content-language"] == "id"
    r = await admin.get(COMMUNITIES, headers={"Accept-Language": "fr"})
    assert r.headers["content-language"] == "en"


async def test_401_and_405_answer_in_indonesian(client: httpx.AsyncClient) -> None:
    r = await client.get(COMMUNITIES, headers=ID)
    problem = assert_problem(r, 401)
    assert problem["title"] == "Tidak Terautentikasi"
    assert problem["detail"] == "autentikasi diperlukan"
    r = await client.put(COMMUNITIES, json={}, headers=ID)
    problem = assert_problem(r, 405)
    assert problem["title"] == "Metode Tidak Diizinkan"
    assert r.headers["content-language"] == "id"
