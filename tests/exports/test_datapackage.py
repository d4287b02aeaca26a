"""The data package describes what the caller receives, checked as an analyst would: every
dataset downloaded as CSV from the path the package gives, then the whole package run
through the ``frictionless`` validator (the Frictionless reference implementation), which
checks headers, types, primary keys and the foreign keys across datasets. Once as an
analyst (pseudonymised) and once as an admin asking for the identified package."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.exports.test_exports import World, build_world
from tests.factories import EXPORTS, MakeCommunity

PURPOSE = "Verifikasi penerima BLT Desa Sukamaju 2025"
PERSONAL = {"id", "full_name", "birth_year", "nik", "phone"}


@pytest.fixture
async def world(admin: httpx.AsyncClient, make_community: MakeCommunity) -> World:
    return await build_world(admin, make_community)


async def _download(client: httpx.AsyncClient, pkg: dict[str, Any], folder: Path) -> Path:
    """Every resource fetched from its own ``path`` (as the caller would), stored beside
    the descriptor, which then points at the local files."""
    files = {}
    for resource in pkg["resources"]:
        url = urlsplit(resource["path"])
        assert url.path == f"{EXPORTS}/{resource['name']}"
        r = await client.get(url.path, params=dict(parse_qsl(url.query)))
        assert r.status_code == 200, (resource["name"], r.text)
        assert r.headers["content-type"].startswith("text/csv")
        files[f"{resource['name']}.csv"] = r.content
        resource["path"] = f"{resource['name']}.csv"
    return _store(folder, files, pkg)


def _store(folder: Path, files: dict[str, bytes], pkg: dict[str, Any]) -> Path:
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_bytes(content)
    descriptor = folder / "datapackage.json"
    descriptor.write_text(json.dumps(pkg))
    return descriptor


def _errors(descriptor: Path) -> list[str]:
    import frictionless

    report = frictionless.validate(str(descriptor))
    errors = [e for task in report.tasks for e in task.errors] + list(report.errors)
    return [f"{getattr(e, 'type', '?')}: {e.message}" for e in errors]


def _fields(pkg: dict[str, Any], name: str) -> list[str]:
    (resource,) = [r for r in pkg["resources"] if r["name"] == name]
    return [f["name"] for f in resource["schema"]["fields"]]


async def test_analyst_package_validates_with_frictionless(
    analyst: httpx.AsyncClient, world: World, tmp_path: Path
) -> None:
    r = await analyst.get(EXPORTS)
    assert r.status_code == 200, r.text
    pkg = r.json()
    people = _fields(pkg, "people")
    assert people[0] == "person_key" and "age_band" in people and "birth_decade" in people
    assert not PERSONAL & set(people)
    assert all("identified" not in r["path"] for r in pkg["resources"])
    descriptor = await _download(analyst, pkg, tmp_path / "pseudonymised")
    assert _errors(descriptor) == []


async def test_identified_package_validates_with_frictionless(
    admin: httpx.AsyncClient, world: World, tmp_path: Path
) -> None:
    r = await admin.get(EXPORTS, params={"identified": "true", "purpose": PURPOSE})
    assert r.status_code == 200, r.text
    pkg = r.json()
    assert pkg["name"] == "berdaya-identified"
    people = _fields(pkg, "people")
    assert set(people) >= PERSONAL and people[0] == "person_key"
    (resource,) = [r for r in pkg["resources"] if r["name"] == "people"]
    flagged = {f["name"] for f in resource["schema"]["fields"] if f.get("berdaya:identified_only")}
    assert flagged == PERSONAL
    query = dict(parse_qsl(urlsplit(resource["path"]).query))
    assert query == {"format": "csv", "identified": "true", "purpose": PURPOSE}
    # datasets without identified fields are the same either way: no identified download
    others = [r for r in pkg["resources"] if r["name"] != "people"]
    assert all("identified" not in r["path"] for r in others)
    descriptor = await _download(admin, pkg, tmp_path / "identified")
    assert _errors(descriptor) == []
    # the identified CSV did carry the names (the package described real identified data)
    assert "Kartini Wulandari Sejahtera" in (descriptor.parent / "people.csv").read_text()


async def test_an_admin_without_identified_gets_the_pseudonymised_package(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient
) -> None:
    assert (await admin.get(EXPORTS)).json() == (await analyst.get(EXPORTS)).json()


async def test_the_validator_does_resolve_foreign_keys(
    analyst: httpx.AsyncClient, world: World, tmp_path: Path
) -> None:
    """Proof that the check above is not vacuous: a participation record pointing at a
    person_key that no person has is reported as a foreign-key error."""
    pkg = (await analyst.get(EXPORTS)).json()
    descriptor = await _download(analyst, pkg, tmp_path / "tampered")
    records = descriptor.parent / "participation-records.csv"
    header, first, *rest = records.read_bytes().decode().split("\r\n")
    key = first.split(",")[0]
    assert key.startswith("p_")
    records.write_bytes(
        "\r\n".join([header, first.replace(key, "p_" + "0" * 30, 1), *rest]).encode()
    )
    errors = _errors(descriptor)
    assert errors and all(e.startswith("foreign-key") for e in errors), errors


async def test_identified_package_rules(
    analyst: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    r = await analyst.get(EXPORTS, params={"identified": "true", "purpose": PURPOSE})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await admin.get(EXPORTS, params={"identified": "true"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["loc"] == ["query", "purpose"]
    r = await admin.get(EXPORTS, params={"identified": "true", "purpose": "abc"})
    assert r.status_code == 422
