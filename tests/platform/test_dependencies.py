"""Known-vulnerable versions of the security libraries fail the build.

Checked twice: the installed versions (what runs) and the floors declared in
pyproject.toml (what a fresh install may resolve to). Minimums and why:

* python-jose 3.5.0 — CVE-2024-33663 (algorithm confusion with OpenSSH ECDSA keys) and
  CVE-2024-33664 (JWE decompression bomb) were fixed in 3.4.0; the project requires 3.5.0.
* starlette 0.49.1 — CVE-2025-62727 (O(n^2) Range header DoS in FileResponse, 0.49.1),
  CVE-2025-54121 (multipart upload blocks the event loop, 0.47.2), CVE-2024-47874
  (unbounded multipart form fields, 0.40.0).
* cryptography 44.0.1 — CVE-2024-12797 (OpenSSL in the wheels, 44.0.1), CVE-2024-26130
  (NULL dereference in PKCS#12, 42.0.4).
* python-multipart 0.0.18 — CVE-2024-53981 (boundary parsing DoS).
* pwdlib 0.2.1 — the first release with the argon2id defaults the project relies on.
* ecdsa — CVE-2024-23342 (Minerva timing) is unfixed; python-jose must use the
  cryptography backend so that ecdsa's signing code is never used.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

MINIMUMS = {
    "python-jose": "3.5.0",
    "starlette": "0.49.1",
    "cryptography": "44.0.1",
    "python-multipart": "0.0.18",
    "pwdlib": "0.2.1",
}
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@pytest.mark.parametrize(("package", "minimum"), sorted(MINIMUMS.items()))
def test_installed_version_is_not_known_vulnerable(package: str, minimum: str) -> None:
    installed = Version(metadata.version(package))
    assert installed >= Version(minimum), f"{package} {installed} < {minimum}: known CVEs"


def _declared() -> dict[str, Requirement]:
    data = tomllib.loads(PYPROJECT.read_text())
    requirements = [Requirement(r) for r in data["project"]["dependencies"]]
    return {r.name.lower(): r for r in requirements}


@pytest.mark.parametrize(("package", "minimum"), sorted(MINIMUMS.items()))
def test_declared_floor_excludes_known_vulnerable_versions(package: str, minimum: str) -> None:
    declared = _declared()
    assert package in declared, f"{package} must be a direct dependency with a floor"
    specifier = declared[package].specifier
    # the floor itself must be safe: no version below the minimum satisfies the specifier
    floors = [Version(s.version) for s in specifier if s.operator in (">=", "==", "~=")]
    assert floors, f"{package} has no lower bound in pyproject.toml"
    assert max(floors) >= Version(minimum), f"pyproject allows {package} {specifier} < {minimum}"


def test_jose_uses_the_cryptography_backend_not_ecdsa() -> None:
    from jose import backends
    from jose.backends.cryptography_backend import CryptographyECKey

    assert backends.ECKey is CryptographyECKey
