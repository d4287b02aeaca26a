"""Schemathesis against the app's own OpenAPI document, in-process over ASGI.

Every operation, positive and negative data, with each role's token, and every check
schemathesis has: no 5xx; status codes, content types, headers and bodies as documented;
negative data rejected; schema-valid data accepted unless a rule the schema cannot state
explains the 422 (``contract_rules.py``: per operation and field, with the reason); auth
enforced. The fast run (``make test``) draws a few examples per operation for an admin and
an analyst; the slow run (``make test-slow``) draws many more for every role.
``test_schemathesis_phases.py`` runs schemathesis's own engine (examples, coverage,
stateful).

Schemathesis drives its own event loop thread, so it gets its own app object (same
settings, same database, same signing key as the session app); tokens are minted by
the session app's token service.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection

from app.auth.models import Role
from app.core.config import Settings
from app.main import create_app
from tests.factories import make_partner_org, token_for
from tests.platform.contract_rules import ContractRules

FAST_EXAMPLES = int(os.environ.get("BERDAYA_ST_FAST_EXAMPLES", "2"))
SLOW_EXAMPLES = int(os.environ.get("BERDAYA_ST_SLOW_EXAMPLES", "10"))
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
# A batch answers each row on its own (contract: per-row results, 200 unless atomic): a
# request whose rows break the row schema is accepted, and every bad row reported.
PER_ROW_OPERATIONS = {"POST /api/v1/participation-records/batch"}
# Logging out ends every access token of the caller: it runs as a second user of the role,
# with a token of its own each time, so the other operations keep theirs.
OWN_TOKEN_OPERATIONS = {"POST /api/v1/auth/revoke"}


@pytest.fixture(scope="module")
def st_app(settings: Settings) -> Any:
    return create_app(settings)


def fuzz(
    st_app: Any, token: str, other_token: Callable[[], str], *, max_examples: int
) -> tuple[int, list[str]]:
    """Run every operation; return the number of cases and the failures found."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", st_app)
    ContractRules().install(schema)
    cases = 0
    failures: list[str] = []
    checks: collections.Counter[str] = collections.Counter()

    def checker(label: str, excluded: list[Any]) -> Callable[[Any], None]:
        def run(case: Any) -> None:
            nonlocal cases
            cases += 1
            bearer = other_token() if case.operation.label in OWN_TOKEN_OPERATIONS else token
            try:
                case.call_and_validate(
                    headers={"Authorization": f"Bearer {bearer}"}, excluded_checks=excluded
                )
            except (Exception, BaseExceptionGroup) as exc:  # collect, report all at once
                failures.append(f"{label}: {str(exc)[:1500]}")
                found = exc.exceptions if isinstance(exc, BaseExceptionGroup) else [exc]
                checks.update(str(getattr(one, "title", type(one).__name__)) for one in found)

        return run

    for result in schema.get_all_operations():
        operation = result.ok()
        excluded = [negative_data_rejection] if operation.label in PER_ROW_OPERATIONS else []
        for mode in MODES:
            test: Callable[[], None] = hypothesis.given(
                case=operation.as_strategy(generation_mode=mode)
            )(
                hypothesis.settings(
                    max_examples=max_examples,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.generate],
                )(checker(f"{operation.label} [{mode.value}]", excluded))
            )
            # Unsatisfiable: e.g. negative data for an operation that takes no input at all
            with contextlib.suppress(hypothesis.errors.Unsatisfiable):
                test()
    if checks:
        print("\nfailures by check:", dict(checks))
    return cases, failures


async def _fuzz_as(app: Any, st_app: Any, make_user: Any, role: Role, examples: int) -> int:
    kwargs: dict[str, Any] = {}
    if role is Role.partner:
        kwargs["organization_id"] = await make_partner_org(app)
    user = await make_user(role, **kwargs)
    other = await make_user(role, **kwargs)
    cases, failures = await asyncio.to_thread(
        fuzz,
        st_app,
        token_for(app, user.id),
        lambda: token_for(app, other.id),
        max_examples=examples,
    )
    print(f"\nschemathesis {role.value}: {cases} cases, {len(failures)} failures")
    report = os.environ.get("BERDAYA_ST_REPORT")  # every failure, for a closer look
    if report:
        await asyncio.to_thread(
            Path(f"{report}.cases.{role.value}.txt").write_text, "\n\n".join(failures)
        )
    assert not failures, "\n\n".join(failures[:10])
    assert cases > 0
    return cases


@pytest.mark.parametrize("role", [Role.admin, Role.analyst])
async def test_schemathesis_fast(app: Any, st_app: Any, make_user: Any, role: Role) -> None:
    await _fuzz_as(app, st_app, make_user, role, FAST_EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize("role", list(Role))
async def test_schemathesis_full(app: Any, st_app: Any, make_user: Any, role: Role) -> None:
    await _fuzz_as(app, st_app, make_user, role, SLOW_EXAMPLES)
