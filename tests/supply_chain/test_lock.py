"""The hashed lock files must match pyproject.toml, offline.

`make run`, `make test` and the Dockerfile install only from the locks
(`pip install --require-hashes`), so a dependency added to pyproject.toml without
`make lock` would silently be missing, and an unhashed line would fail the install.
Both locks resolve for CPython 3.11 on linux x86_64 (the shipped image).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version


def _root() -> Path:
    # tests may move between folders; the project root is where pyproject.toml is
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file():
            return parent
    raise AssertionError("pyproject.toml not found above the tests")


ROOT = _root()
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
# markers are judged for the platform the locks are resolved for
TARGET = {
    "python_version": "3.11",
    "python_full_version": "3.11.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
}


@pytest.fixture(autouse=True)
def _clean_tables() -> Iterator[None]:
    """These tests read files only: no database to start or empty."""
    yield


def _logical_lines(path: Path) -> list[str]:
    text = path.read_text().replace("\\\n", " ")
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _locked(path: Path) -> dict[NormalizedName, tuple[Version, frozenset[str]]]:
    """name -> (pinned version, hashes); asserts every line is pinned and hashed."""
    locked: dict[NormalizedName, tuple[Version, frozenset[str]]] = {}
    for line in _logical_lines(path):
        requirement, *options = line.split()
        assert not requirement.startswith("-"), f"{path.name}: unexpected option {line!r}"
        req = Requirement(requirement)
        pins = [s for s in req.specifier if s.operator == "=="]
        assert len(req.specifier) == 1 and pins, f"{path.name}: {req} is not pinned with =="
        hashes = frozenset(o for o in options if o.startswith("--hash="))
        assert hashes, f"{path.name}: {req.name} has no --hash=sha256: (run `make lock`)"
        bad = [h for h in hashes if not HASH.fullmatch(h)]
        assert not bad, f"{path.name}: {req.name} has non-sha256 hashes {bad}"
        other = [o for o in options if not o.startswith("--hash=")]
        assert not other, f"{path.name}: {req.name} has unexpected options {other}"
        name = canonicalize_name(req.name)
        assert name not in locked, f"{path.name}: {req.name} is locked twice"
        locked[name] = (Version(pins[0].version), hashes)
    assert locked, f"{path.name} locks nothing"
    return locked


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _declared(*, dev: bool) -> list[Requirement]:
    data = _pyproject()
    declared = list(data["project"]["dependencies"])
    if dev:
        declared += data["project"]["optional-dependencies"]["dev"]
    # the project is installed with --no-build-isolation, so its build backend is locked too
    declared += data["build-system"]["requires"]
    return [Requirement(r) for r in declared]


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_every_locked_line_is_pinned_and_hashed(lock: Path) -> None:
    text = lock.read_text()
    assert "--hash=sha256:" in text
    _locked(lock)  # asserts line by line


@pytest.mark.parametrize(
    ("lock", "dev"), [(RUNTIME_LOCK, False), (DEV_LOCK, True)], ids=["runtime", "dev"]
)
def test_every_declared_dependency_is_locked_within_its_specifier(lock: Path, dev: bool) -> None:
    locked = _locked(lock)
    problems = []
    for req in _declared(dev=dev):
        if req.marker is not None and not req.marker.evaluate(TARGET):
            continue
        name = canonicalize_name(req.name)
        if name not in locked:
            problems.append(f"{req} is missing")
        elif not req.specifier.contains(locked[name][0], prereleases=True):
            problems.append(f"{req} but {lock.name} pins {locked[name][0]}")
    assert not problems, f"{lock.name} disagrees with pyproject.toml (run `make lock`): " + (
        "; ".join(problems)
    )


def test_runtime_lock_is_the_dev_lock_without_the_dev_tools() -> None:
    """Production runs the versions that `make test` tested, hash for hash."""
    runtime, dev = _locked(RUNTIME_LOCK), _locked(DEV_LOCK)
    differing = {
        name: (version, dev.get(name, (None,))[0])
        for name, (version, hashes) in runtime.items()
        if dev.get(name) != (version, hashes)
    }
    assert not differing, f"runtime pins differ from the dev lock (run `make lock`): {differing}"


def test_the_project_itself_is_not_locked() -> None:
    """It is installed from the work tree with --no-deps, after the lock."""
    name = canonicalize_name(_pyproject()["project"]["name"])
    assert name not in _locked(RUNTIME_LOCK)
    assert name not in _locked(DEV_LOCK)
