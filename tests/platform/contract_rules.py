"""The API's rules that no JSON Schema can state, for schemathesis to know them.

The OpenAPI document states every rule of a request it can (patterns, enums, bounds,
``multipleOf``, ``uniqueItems``, ``oneOf``, ``if``/``then``): a request it admits is
accepted. What remains needs stored rows, two values compared, or the request's spelling;
the API answers those 422 by contract. ``ContractRules`` lets a "schema-valid request
rejected" failure go only when the answer is a 422 whose every error is listed here for
that operation and field (or is a whole number spelled with a fraction), so a rejection
for any other reason still fails the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from schemathesis.openapi.checks import RejectedPositiveData, UseAfterFree

# Why a rule is beyond JSON Schema. Each names what the schema would need to see.
REFERENCE = (
    "names a stored row that must exist, be visible to the caller and, where the message "
    "says so, have a given role or belong to the same community: a schema cannot look rows up"
)
STORED = (
    "depends on what is stored (the row's current status, dates or kind, the caller's own "
    "account): a request schema sees only the request"
)
ORDER = "orders two values of the request (an end before its start): JSON Schema cannot compare"
CURSOR = (
    "an opaque cursor is valid only as `next_cursor` handed it out, with the same filters "
    "and sort: its pattern is all a schema can say"
)
PAIRED_PARAMETERS = (
    "ties two query parameters together (`identified=true` needs `purpose`): OpenAPI "
    "describes parameters one by one"
)
EMAIL = (
    "`format: email` (RFC 5321) admits addresses the API refuses (quoted local parts, domain "
    "literals, special-use domains such as .test, non-ASCII look-alikes): the email "
    "validator's rules are no JSON Schema keyword"
)
WHOLE_NUMBER = (
    "JSON Schema's `integer` admits 2.0; the API takes a count only spelled as an integer "
    "(strict input, tests/platform/test_strict_input.py)"
)
TODAY = (
    "depends on today's date (a planning year at most six years ahead, a decision not in "
    "the future): a schema is written once"
)
SAME_ID = (
    "the same UUID spelled in other letter case is the same id: `uniqueItems` compares the text"
)


@dataclass(frozen=True)
class Unstated:
    """A 422 at ``loc`` (``"*"`` for any list index) whose message contains ``message``."""

    loc: tuple[str, ...]
    message: str
    reason: str


def _refs(*fields: tuple[str, str]) -> tuple[Unstated, ...]:
    return tuple(
        Unstated(("body", *name.split(".")), message, REFERENCE) for name, message in fields
    )


_PARTICIPATION_ROW = (
    ("person_id", "person not found"),
    ("activity_id", "activity not found"),
    ("assessment_id", "assessment not found"),
    ("person_id", "the person does not belong to a community of this context"),
)

# Webhook targets (API.md §7): https unless the server allows insecure targets (a setting
# of the server, not of the schema), and an address that resolves to a public one (DNS).
TARGET = (
    "depends on the server's settings (BERDAYA_WEBHOOK_ALLOW_INSECURE) and on what the "
    "host name resolves to (DNS): a schema sees only the URL's text"
)
_WEBHOOK_URL = (
    Unstated(("body", "url"), "the URL must use https", TARGET),
    Unstated(("body", "url"), "the URL's address is not public", TARGET),
    Unstated(("body", "url"), "the URL must be an absolute http(s) URL", TARGET),
    Unstated(("body", "url"), "the URL may not carry credentials", TARGET),
)

UNSTATED: dict[str, tuple[Unstated, ...]] = {
    "PUT /api/v1/communities/{community_id}/facilitators/{user_id}": (
        Unstated(("path", "user_id"), "the user is not a facilitator", REFERENCE),
    ),
    "POST /api/v1/needs-assessments": (
        *_refs(
            ("community_id", "community not found"),
            ("community_id", "you may not plan assessments in this community"),
            ("facilitator_id", "facilitator_id must name a facilitator"),
        ),
        Unstated(("body", "completed_on"), "completed_on is before started_on", ORDER),
    ),
    "PATCH /api/v1/needs-assessments/{assessment_id}": (
        *_refs(("facilitator_id", "facilitator_id must name a facilitator")),
        Unstated(("body", "completed_on"), "completed_on is before started_on", ORDER),
    ),
    "PATCH /api/v1/needs-assessments/{assessment_id}/findings/{finding_id}": (
        Unstated(("body", "severity"), "severity applies to problems and needs only", STORED),
    ),
    "POST /api/v1/needs-assessments/{assessment_id}/ballots": _refs(
        ("person_id", "the person must belong to the assessment's community"),
        ("ranking.*", "the ranking may only hold this assessment's problem and need findings"),
    ),
    "POST /api/v1/participation-records": _refs(*_PARTICIPATION_ROW),
    "POST /api/v1/participation-records/batch": tuple(
        Unstated(("body", "rows", "*", name), message, REFERENCE)
        for name, message in _PARTICIPATION_ROW
    ),
    "POST /api/v1/programs": (
        *_refs(
            ("community_ids.*", "community not found"),
            ("addressed_finding_ids.*", "addressed findings must be problems or needs found in"),
            ("coordinator_id", "coordinator_id must name a coordinator or admin"),
        ),
        Unstated(("body", "end_date"), "end_date is before start_date", ORDER),
    ),
    "PATCH /api/v1/programs/{program_id}": (
        *_refs(
            ("community_ids.*", "community not found"),
            ("addressed_finding_ids.*", "addressed findings must be problems or needs found in"),
            ("coordinator_id", "coordinator_id must name a coordinator or admin"),
        ),
        Unstated(("body", "end_date"), "end_date is before start_date", ORDER),
    ),
    "POST /api/v1/programs/{program_id}/transitions": (
        Unstated(("body", "note"), "a rejection needs a note saying why", STORED),
    ),
    "POST /api/v1/programs/{program_id}/activities": (
        *_refs(("community_id", "the activity's community must be one of the program's")),
        Unstated(("body", "scheduled_end"), "scheduled_end is before scheduled_start", ORDER),
    ),
    "PATCH /api/v1/programs/{program_id}/activities/{activity_id}": (
        *_refs(("community_id", "the activity's community must be one of the program's")),
        Unstated(("body", "scheduled_end"), "scheduled_end is before scheduled_start", ORDER),
    ),
    "POST /api/v1/programs/{program_id}/indicators/{indicator_id}/measurements": (
        Unstated(("body", "measured_on"), "must fall within the program's dates", STORED),
    ),
    "PATCH /api/v1/programs/{program_id}/indicators/{indicator_id}/measurements/{measurement_id}": (
        Unstated(("body", "measured_on"), "must fall within the program's dates", STORED),
    ),
    "POST /api/v1/partnerships": (
        *_refs(("partner_id", "partner not found"), ("program_id", "program not found")),
        Unstated(("body", "end_date"), "end_date is before start_date", ORDER),
    ),
    "PATCH /api/v1/partnerships/{partnership_id}": (
        Unstated(("body", "end_date"), "end_date is before start_date", ORDER),
    ),
    "POST /api/v1/partnerships/{partnership_id}/contributions": (
        Unstated(("body", "contributed_on"), "must fall within the partnership's dates", STORED),
    ),
    "PATCH /api/v1/partnerships/{partnership_id}/contributions/{contribution_id}": (
        Unstated(("body", "contributed_on"), "must fall within the partnership's dates", STORED),
    ),
    "POST /api/v1/partners": (Unstated(("body", "contact_email"), "email address", EMAIL),),
    "PATCH /api/v1/partners/{partner_id}": (
        Unstated(("body", "contact_email"), "email address", EMAIL),
    ),
    "POST /api/v1/service-accounts": _refs(("organization_id", "partner organisation not found")),
    "POST /api/v1/users": (
        *_refs(("organization_id", "partner organisation not found")),
        Unstated(("body", "email"), "email address", EMAIL),
    ),
    "PATCH /api/v1/users/{user_id}": (
        *_refs(("organization_id", "partner organisation not found")),
        Unstated(("body", "organization_id"), "only they, belong to an organization", STORED),
        Unstated(("body",), "admins cannot demote or disable themselves", STORED),
    ),
    "DELETE /api/v1/users/{user_id}": (
        Unstated(("path", "user_id"), "admins cannot delete themselves", STORED),
    ),
    "POST /api/v1/people": _refs(
        ("community_id", "community not found"),
        ("community_id", "you may not register people in this community"),
    ),
    # PUT with client-made ids (API.md §6): the rules of the create and of the update.
    "PUT /api/v1/people/{person_id}": _refs(
        ("community_id", "community not found"),
        ("community_id", "you may not register people in this community"),
    ),
    "PUT /api/v1/participation-records/{record_id}": (
        *_refs(*_PARTICIPATION_ROW),
        *(
            Unstated(("body", name), "is fixed when the record is created", STORED)
            for name in ("person_id", "activity_id", "assessment_id")
        ),
    ),
    "PUT /api/v1/needs-assessments/{assessment_id}/findings/{finding_id}": (
        Unstated(("body", "severity"), "severity applies to problems and needs only", STORED),
    ),
    "PUT /api/v1/needs-assessments/{assessment_id}/ballots/{person_id}": (
        *_refs(
            ("person_id", "the person must belong to the assessment's community"),
            ("ranking.*", "the ranking may only hold this assessment's problem and need findings"),
        ),
        Unstated(("body", "person_id"), "person_id must be the path's", ORDER),
    ),
    "PUT /api/v1/programs/{program_id}/activities/{activity_id}": (
        *_refs(("community_id", "the activity's community must be one of the program's")),
        Unstated(("body", "scheduled_end"), "scheduled_end is before scheduled_start", ORDER),
    ),
    "PUT /api/v1/programs/{program_id}/indicators/{indicator_id}/measurements/{measurement_id}": (
        Unstated(("body", "measured_on"), "must fall within the program's dates", STORED),
    ),
    **{
        f"GET /api/v1/reports/{report}": (
            Unstated(("query", "date_to"), "date_to is before date_from", ORDER),
        )
        for report in (
            "participation",
            "needs-coverage",
            "partnerships",
            "development",
            "needs-to-budget",
        )
    },
    # Village planning (API.md §8).
    **{
        f"{method} /api/v1/planning-proposals{path}": (
            *_refs(
                ("community_id", "community not found"),
                ("community_id", "you may not plan in this community"),
                ("finding_ids.*", "findings must be problems or needs of validated"),
                ("program_ids.*", "programs must be live programs that include"),
            ),
            Unstated(("body", "planning_year"), "planning_year may be at most", TODAY),
            Unstated(("body", "finding_ids"), "finding_ids must not repeat", SAME_ID),
            Unstated(("body", "program_ids"), "program_ids must not repeat", SAME_ID),
        )
        for method, path in (("POST", ""), ("PATCH", "/{proposal_id}"))
    },
    "POST /api/v1/planning-proposals/{proposal_id}/transitions": (
        Unstated(("body", "note"), "a rejection needs a note saying why", STORED),
        Unstated(("body", "date"), "date is in the future", TODAY),
        Unstated(("body", "date"), "date is before the previous decision", STORED),
    ),
    "POST /api/v1/planning-proposals/{proposal_id}/funding": (
        Unstated(("body", "fiscal_year"), "fiscal_year must be from the planning year", STORED),
        Unstated(("body", "realised_amount"), "realised_amount is above planned_amount", ORDER),
    ),
    "PATCH /api/v1/planning-proposals/{proposal_id}/funding/{funding_id}": (
        Unstated(("body", "realised_amount"), "realised_amount is above planned_amount", STORED),
    ),
    "POST /api/v1/needs-assessments/{assessment_id}/proposals": (
        Unstated(("body", "planning_year"), "planning_year may be at most", TODAY),
    ),
    "PATCH /api/v1/communities/{community_id}/development-indices/{index_id}": tuple(
        Unstated(("body", name), "does not apply to the", STORED)
        for name in (
            "iks",
            "ike",
            "ikl",
            "layanan_dasar",
            "sosial",
            "ekonomi",
            "lingkungan",
            "aksesibilitas",
            "tata_kelola",
            "score",
            "status",
        )
    ),
    "GET /api/v1/exports": (
        Unstated(("query", "purpose"), "identified exports need a purpose", PAIRED_PARAMETERS),
    ),
    "GET /api/v1/exports/{dataset}": (
        Unstated(("query", "purpose"), "identified exports need a purpose", PAIRED_PARAMETERS),
    ),
    "POST /api/v1/webhook-endpoints": (
        *_WEBHOOK_URL,
        *_refs(("organization_id", "partner organisation not found")),
        Unstated(("body", "organization_id"), "for their own organisation only", STORED),
    ),
    "PATCH /api/v1/webhook-endpoints/{endpoint_id}": _WEBHOOK_URL,
    "POST /api/v1/webhook-endpoints/{endpoint_id}/replay": (
        Unstated(("body", "until"), "until must be after since", ORDER),
    ),
}
# Every list: its cursor.
LIST_CURSOR = (Unstated(("query", "cursor"), "the cursor", CURSOR),)


class ContractRules:
    """The hooks of one schemathesis run: ``install(schema)``.

    ``filter_failure`` drops a "schema-valid request rejected" failure only when the 422 is
    explained above, and a "deleted resource still available" failure only when the row
    was restored after its DELETE: deletes are soft and ``POST …/restore`` brings the row
    back (contract), while schemathesis takes only a create at a shorter path for a
    re-creation. ``after_call`` keeps the successful deletes and restores, in order."""

    def __init__(self) -> None:
        self._deletes_and_restores: list[tuple[str, str]] = []

    def install(self, schema: Any) -> None:
        # Hooks are functions (schemathesis sets attributes on them, a method takes none).
        def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
            return self.filter_failure(failure, case, response)

        def after_call(context: Any, case: Any, response: Any) -> None:
            self.after_call(case, response)

        schema.hook(filter_failure)
        schema.hook(after_call)

    def after_call(self, case: Any, response: Any) -> None:
        if not 200 <= response.status_code < 300:
            return
        path = case.formatted_path
        if case.method.upper() == "DELETE":
            self._deletes_and_restores.append(("delete", path))
        elif case.method.upper() == "POST" and path.endswith("/restore"):
            self._deletes_and_restores.append(("restore", path.removesuffix("/restore")))

    def filter_failure(self, failure: Any, case: Any, response: Any) -> bool:
        """False (drop the failure) only when it is explained."""
        if isinstance(failure, UseAfterFree):
            return not self._restored(failure.free.split(" ", 1)[-1])
        if isinstance(failure, RejectedPositiveData) and _precondition(case, response):
            return False
        if not isinstance(failure, RejectedPositiveData) or response.status_code != 422:
            return True
        errors = _errors(response)
        rules = UNSTATED.get(case.operation.label, ()) + LIST_CURSOR
        return not errors or not all(_listed(error, rules, case) for error in errors)

    def _restored(self, path: str) -> bool:
        events = self._deletes_and_restores
        deleted = [i for i, event in enumerate(events) if event == ("delete", path)]
        return bool(deleted) and ("restore", path) in events[deleted[-1] :]


def _precondition(case: Any, response: Any) -> bool:
    """A PUT's 412: If-Match names a version of a stored row, or If-None-Match: * an id
    taken by another body (API.md §6) — what is stored, which a schema cannot see."""
    if case.method.upper() != "PUT" or response.status_code != 412:
        return False
    try:
        return str(json.loads(response.content).get("type", "")).endswith("precondition-failed")
    except ValueError:
        return False


def _errors(response: Any) -> list[dict[str, Any]]:
    """The problem's errors; for a batch, every row's."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return []
    if isinstance(body.get("batch"), dict):
        return [e for row in body["batch"].get("results", []) for e in row.get("errors") or []]
    return list(body.get("errors") or [])


def _listed(error: dict[str, Any], rules: tuple[Unstated, ...], case: Any) -> bool:
    loc = tuple("*" if isinstance(part, int) else str(part) for part in error.get("loc", []))
    message = str(error.get("message", ""))
    if error.get("type") == "int_type" and _whole_float(case, error.get("loc", [])):
        return True  # WHOLE_NUMBER
    return any(rule.loc == loc and rule.message in message for rule in rules)


def _whole_float(case: Any, loc: list[Any]) -> bool:
    """The value sent at ``loc`` is a number with a zero fraction spelled as a float."""
    if not loc or loc[0] != "body":
        return False
    value: Any = case.body
    for part in loc[1:]:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(value, float) and value.is_integer()
