"""Schemathesis's own engine against the app, in-process, every check (``--checks all``).

``test_schemathesis.py`` draws cases operation by operation; this runs the phases the
command line runs: the documented examples, the coverage phase (boundary values, each
constraint broken once, missing parameters, methods a path does not have, OPTIONS), and
in the slow run fuzzing and the stateful phase, which follows the document's links from
each create to what it created (ids that exist, so the calls get past 404). Failures a
rule the schema cannot state explains are let go by ``contract_rules.ContractRules``, per
operation and field; everything else fails the test.

Bounded for a 2-core machine: the fast run takes about half a minute, the slow one a few
(``BERDAYA_ST_PHASE_EXAMPLES``, ``BERDAYA_ST_STATEFUL_STEPS`` to change it;
``BERDAYA_ST_REPORT=<path>`` writes every failure to ``<path>.<role>.txt``).
"""

from __future__ import annotations

import asyncio
import collections
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from app.auth.models import Role
from app.core.config import Settings
from app.main import create_app
from tests.factories import token_for
from tests.platform.contract_rules import ContractRules

PHASE_EXAMPLES = int(os.environ.get("BERDAYA_ST_PHASE_EXAMPLES", "10"))
STATEFUL_STEPS = int(os.environ.get("BERDAYA_ST_STATEFUL_STEPS", "30"))
PHASES = ("examples", "coverage", "fuzzing", "stateful")
# Logging out ends every access token of the caller: it runs as a second user.
OWN_TOKEN_OPERATIONS = {"POST /api/v1/auth/revoke"}


@pytest.fixture(scope="module")
def st_app(settings: Settings) -> Any:
    return create_app(settings)


def run_engine(
    st_app: Any, token: str, other_token: Callable[[], str], phases: set[str], examples: int
) -> tuple[collections.Counter[str], list[str]]:
    """Run the engine; return the requests made by phase and one line per failure."""
    config = SchemathesisConfig.from_dict(
        {
            "seed": 1,
            "workers": 1,
            "checks": {"enabled": True},
            "phases": {
                **{name: {"enabled": name in phases} for name in PHASES},
                "stateful": {"enabled": "stateful" in phases, "max-steps": STATEFUL_STEPS},
            },
            "generation": {"max-examples": examples},
            # A batch answers each row on its own (200, or 422 listing the bad rows when
            # atomic): a request whose rows break the row schema is not refused as a whole.
            "operations": [
                {
                    "include-operation-id": "participation-records-batch",
                    "checks": {"negative_data_rejection": {"enabled": False}},
                }
            ],
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", st_app, config=config)
    ContractRules().install(schema)

    @schema.auth(refresh_interval=None)
    class _Bearer:
        def get(self, case: Any, ctx: Any) -> str:
            return token

        def set(self, case: Any, data: str, ctx: Any) -> None:
            if case.operation.label in OWN_TOKEN_OPERATIONS:
                data = other_token()
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    calls: collections.Counter[str] = collections.Counter()  # requests made, by phase
    failures: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            calls[event.phase.value] += len(event.recorder.interactions)
            failures.extend(_failures(event))
        elif isinstance(event, events.NonFatalError):
            failures.append(f"engine error: {event.info.message}")
    return calls, failures


def _failures(event: Any) -> list[str]:
    """One line per failed check of a scenario: phase, check, operation, request, answer."""
    found = []
    recorder = event.recorder
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            failure = check.failure_info.failure
            line = f"[{event.phase.value}] {check.name} {failure.operation}: {failure.title}"
            interaction = recorder.interactions.get(case_id)
            if interaction is not None:
                request, response = interaction.request, interaction.response
                line += f"\n  {request.method} {request.uri} {(request.body or b'')[:500]!r}"
                if response is not None:
                    line += f"\n  -> {response.status_code} {(response.content or b'')[:500]!r}"
            found.append(line)
    return found


async def _run_as(
    app: Any, st_app: Any, make_user: Any, role: Role, phases: set[str], examples: int
) -> None:
    user = await make_user(role)
    other = await make_user(role)
    calls, failures = await asyncio.to_thread(
        run_engine,
        st_app,
        token_for(app, user.id),
        lambda: token_for(app, other.id),
        phases,
        examples,
    )
    report = os.environ.get("BERDAYA_ST_REPORT")  # every failure, one block each
    if report:
        await asyncio.to_thread(
            Path(f"{report}.{role.value}.txt").write_text, "\n\n".join(failures)
        )
    by_check = collections.Counter(line.split(" ", 2)[1] for line in failures)
    print(
        f"\nschemathesis engine {role.value}: requests by phase {dict(calls)}, "
        f"failures by check: {dict(by_check)}"
    )
    assert all(calls[phase] for phase in phases), calls  # the stateful one: links followed
    assert not failures, "\n\n".join(failures[:10])


async def test_schemathesis_examples_and_coverage(app: Any, st_app: Any, make_user: Any) -> None:
    await _run_as(app, st_app, make_user, Role.admin, {"examples", "coverage"}, PHASE_EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize("role", [Role.admin, Role.coordinator])
async def test_schemathesis_every_phase(app: Any, st_app: Any, make_user: Any, role: Role) -> None:
    await _run_as(app, st_app, make_user, role, set(PHASES), PHASE_EXAMPLES)
