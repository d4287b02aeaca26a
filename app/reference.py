"""What the API reference says about each operation: who may call it, its rules, its errors.

An operation documented in its router (``description=`` or the route's docstring) keeps its
own text. The others get one here, by operation id: who may call it is read from THE access
policy (``app.auth.policy.PERMISSIONS``, so the reference cannot drift from it), the scope
and the rules are written below, and every description ends with its errors, one line per
error status the operation documents. ``tests/platform/test_reference.py`` checks that
every operation has a description naming who may call it and its errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.auth.policy import APPROVE, DELETE, ERASE, PERMISSIONS, READ, RESTORE, WRITE
from app.core.principal import Role
from app.reference_examples import OPERATION_EXAMPLES

ROLE_ORDER = [Role.admin, Role.coordinator, Role.facilitator, Role.analyst, Role.partner]
ROLE_NAMES = {
    Role.admin: "admins",
    Role.coordinator: "coordinators",
    Role.facilitator: "facilitators",
    Role.analyst: "analysts",
    Role.partner: "partners",
}

SCOPE_COMMUNITY = (
    "Facilitators see their assigned communities, partners the communities of their "
    "organisation's programs; anything else is answered 404, as if it did not exist."
)
SCOPE_PROGRAM = (
    "Facilitators see the programs touching their communities, partners those of their "
    "organisation's live partnerships; anything else is 404."
)
SCOPE_PEOPLE = (
    "Facilitators see the people of their communities; analysts see pseudonymised views "
    "(no name, NIK or phone; birth decade, not year); partners never see people."
)
SCOPE_FIELD = (
    "Facilitators write only in their assigned communities (another community: 403 when "
    "visible, 404 when not)."
)
LIST_RULES = (
    "Keyset pagination: `limit` (1-500, default 50), `cursor` from `next_cursor` or the "
    '`Link: rel="next"` header, `sort` on the fields the summary names (`-` for '
    "descending), `updated_since` for changes since a time. A cursor used with other "
    "filters or another sort is 422."
)
GET_RULES = "The answer carries an `ETag`; send it as `If-None-Match` to get 304 when unchanged."
CREATE_RULES = (
    "Answers 201 with `Location` and `ETag`. Send `Idempotency-Key` to retry safely: a "
    "replay returns the first answer and creates nothing. The write is audited (field names, "
    "never personal values)."
)
UPDATE_RULES = (
    "A JSON merge patch: only the fields sent change, `null` clears an optional field. Send "
    "the `ETag` you read as `If-Match`: a mismatch is 412 and changes nothing."
)
DELETE_RULES = (
    "A soft delete (204): the thing disappears from reads but is kept, with `deleted_at`, "
    "for exports (as a tombstone) and the audit trail. `If-Match` is honoured (412)."
)
RESTORE_RULES = "Brings back a soft-deleted thing as it was; restoring a live one changes nothing."

ERRORS = {
    400: "the request is malformed (see `detail`)",
    401: "no, an invalid or an expired access token",
    403: "your role may not do this here (the thing is visible to you)",
    404: "not found, deleted, or outside your scope",
    405: "the path has no such method (see `Allow`)",
    406: "no representation in the `Accept`ed media type",
    409: "conflicts with the current state (duplicate, illegal transition, a request with "
    "the same `Idempotency-Key` still running)",
    412: "`If-Match` does not match the current `ETag`: read again, then retry",
    413: "the body is too large",
    422: "invalid input; `errors[]` names each field (`loc`) and why",
    428: "a conditional header is required (`If-Match`, or `If-None-Match: *` to create)",
    429: "too many requests; wait for `Retry-After`",
    503: "the database is unavailable, or broke a deadlock with another writer (nothing "
    "was saved); retry after `Retry-After`",
}


@dataclass(frozen=True)
class Doc:
    """How one operation is documented: the policy entry (or the callers in words), and
    what is special about it."""

    resource: str | None = None
    action: str | None = None
    who: str | None = None
    scope: str = ""
    rules: tuple[str, ...] = field(default_factory=tuple)


def _family(
    prefix: str,
    resource: str,
    scope: str,
    *,
    read_resource: str | None = None,
    write_scope: str = "",
    create: str = "",
    update: str = "",
    delete: str = "",
    restore: bool = True,
) -> dict[str, Doc]:
    """The list/get/create/update/delete/restore operations of one resource."""
    read = read_resource or resource
    docs = {
        f"{prefix}-list": Doc(read, READ, scope=scope, rules=(LIST_RULES,)),
        f"{prefix}-get": Doc(read, READ, scope=scope, rules=(GET_RULES,)),
        f"{prefix}-create": Doc(resource, WRITE, scope=write_scope, rules=(create, CREATE_RULES)),
        f"{prefix}-update": Doc(resource, WRITE, scope=write_scope, rules=(update, UPDATE_RULES)),
        f"{prefix}-delete": Doc(resource, DELETE, scope=write_scope, rules=(delete, DELETE_RULES)),
    }
    if restore:
        docs[f"{prefix}-restore"] = Doc(resource, RESTORE, rules=(RESTORE_RULES,))
    return docs


DOCS: dict[str, Doc] = {
    "healthz": Doc(who="anyone, without a token", rules=("200 while the process is up.",)),
    "jwks": Doc(
        who="anyone, without a token",
        rules=(
            "The public keys (JWK Set) that verify Berdaya's access tokens (ES256); a key "
            "being rotated out stays listed until the tokens it signed have expired.",
        ),
    ),
    **_family(
        "communities",
        "communities",
        SCOPE_COMMUNITY,
        create="`region_code` is a Kemendagri village code (`PP.RR.DD.VVVV` with a known "
        "province and no zero part; 422 otherwise).",
        update="The same checks as on create.",
        delete="Its people, assessments and program links stay; they are not shown through "
        "the deleted community.",
    ),
    "community-facilitators-list": Doc(
        "community_facilitators", READ, scope=SCOPE_COMMUNITY, rules=("Oldest first.",)
    ),
    "community-facilitators-assign": Doc(
        "community_facilitators",
        WRITE,
        rules=(
            "The user must be a live facilitator (else 422). Assigning twice changes "
            "nothing. From the next request the facilitator sees and writes in the community.",
        ),
    ),
    "community-facilitators-unassign": Doc(
        "community_facilitators",
        WRITE,
        rules=("204; the facilitator loses the community's scope at once.",),
    ),
    **_family(
        "development-indices",
        "development_indices",
        SCOPE_COMMUNITY,
        create="One index per community, year and scheme (409 otherwise). IDM (`scheme: idm`) "
        "takes IKS, IKE and IKL (0-1) and derives the score and status; Indeks Desa takes its "
        "six dimensions and the published score and status. Fields of the other scheme are 422.",
        update="IDM entries derive their score and status again.",
    ),
    **_family(
        "people",
        "people",
        SCOPE_PEOPLE,
        write_scope=SCOPE_FIELD,
        create="The NIK (16 digits, checked for a known province, a real birth date and a "
        "non-zero serial) is stored encrypted and never shown again in full; a NIK already "
        "registered is 409 (callers who hit many are slowed, 429). Consent purposes are "
        "recorded with their time.",
        update="The NIK changes only to one not yet registered (409). An erased person "
        "cannot change (422).",
    ),
    "people-lookup": Doc(
        "people_lookup",
        READ,
        scope=SCOPE_PEOPLE,
        rules=(
            "The NIK goes in the body, never in a URL or a log; it is matched through its "
            "keyed digest, never decrypted to search.",
        ),
    ),
    "people-data-export": Doc(
        "people_data_export",
        READ,
        scope=SCOPE_PEOPLE,
        rules=(
            "Everything held about one person, clear values included (data-subject access "
            "under UU PDP); the reading is audited.",
        ),
    ),
    "people-erasure": Doc(
        "people",
        ERASE,
        rules=(
            "Irreversible: name, NIK, phone and birth details are removed; the participation "
            "records stay, anonymous. Erasing twice is 409. `If-Match` is honoured.",
        ),
    ),
    **_family(
        "participation-records",
        "participation_records",
        SCOPE_PEOPLE,
        write_scope=SCOPE_FIELD,
        create="Exactly one of `activity_id` and `assessment_id`; the person must belong to a "
        "community of it and have active consent for its purpose (409 otherwise); the date "
        "must fall in the activity's schedule or the assessment's period. One record per "
        "person and activity or assessment (409).",
        update="The person and the context are fixed once created (422).",
    ),
    "readyz": Doc(who="anyone, without a token (load balancers, orchestrators)"),
    "people-put": Doc("people", WRITE, scope=SCOPE_FIELD),
    "activities-put": Doc("activities", WRITE, scope=SCOPE_FIELD),
    "measurements-put": Doc("measurements", WRITE, scope=SCOPE_FIELD),
    "findings-put": Doc("findings", WRITE, scope=SCOPE_FIELD),
    "ballots-put": Doc("ballots", WRITE, scope=SCOPE_FIELD),
    "participation-records-put": Doc(
        "participation_records",
        WRITE,
        scope=SCOPE_FIELD,
        rules=(
            "Creates the record at a client-chosen id (offline field tablets), with "
            "`If-None-Match: *`; a repeat with the same body answers the same record.",
            CREATE_RULES,
        ),
    ),
    "participation-records-batch": Doc(
        "participation_records",
        WRITE,
        scope=SCOPE_FIELD,
        rules=(
            "Up to 1,000 rows (10 MiB). Each row is checked as on create; the answer lists a "
            "result per row (`created`, `duplicate`, `error`). With `atomic=true` a single "
            "bad row creates nothing (422).",
        ),
    ),
    "auth-token": Doc(
        who="anyone: this is how a caller gets a token",
        rules=(
            "Form-encoded OAuth2 grants: `password` (users: `username` = email), "
            "`refresh_token` (a refresh token is spent when used; presenting a spent one "
            "revokes its family), "
            "`client_credentials` (service accounts). Repeated failed logins are slowed (429).",
        ),
    ),
    "auth-revoke": Doc(
        who="any authenticated caller",
        rules=("Revokes the refresh token's family and the caller's current access token.",),
    ),
    "auth-me": Doc(
        who="any authenticated caller",
        rules=("The caller as the API sees it: role, organisation, communities.",),
    ),
    **_family(
        "programs",
        "programs",
        SCOPE_PROGRAM,
        create="A program starts as `draft` with a unique code (409). Its communities must "
        "exist; addressed findings must be problems or needs of those communities; "
        "`coordinator_id` names a coordinator or admin; `end_date` is not before "
        "`start_date` (422).",
        update="A completed or cancelled program can no longer change (409); removing a "
        "community that still has activities is 409.",
    ),
    "programs-transition": Doc(
        "programs",
        WRITE,
        rules=(
            "The lifecycle: draft → submitted → approved → active → completed; submitted → "
            "draft (rejection, with a `note`); cancelled from every open state. Approving "
            "needs the approve permission. An illegal move is 409 and lists the `allowed` "
            "moves. Each move is kept in the history and audited.",
        ),
    ),
    "programs-transitions-list": Doc("programs", READ, scope=SCOPE_PROGRAM, rules=()),
    "programs-terms-of-reference": Doc(
        "programs",
        READ,
        scope=SCOPE_PROGRAM,
        rules=(
            "The KAK in one language (`lang`, Indonesian by default): headings, the label of "
            "every value and long dates; JSON sections, or Markdown with `Accept: "
            "text/markdown`. `Content-Language` is the document's language.",
        ),
    ),
    **_family(
        "activities",
        "activities",
        SCOPE_PROGRAM,
        read_resource="programs",
        write_scope=SCOPE_FIELD,
        create="The activity's community must be one of the program's (422); "
        "`scheduled_end` is not before `scheduled_start`. A completed or cancelled program "
        "takes no new activities (409).",
        update="The same checks as on create.",
        restore=False,
    ),
    **_family(
        "indicators",
        "indicators",
        SCOPE_PROGRAM,
        read_resource="programs",
        create="A baseline, a target and a direction (`increase`/`decrease`). A completed or "
        "cancelled program is frozen (409).",
        update="The program must still be open (409).",
        restore=False,
    ),
    **_family(
        "measurements",
        "measurements",
        SCOPE_PROGRAM,
        read_resource="programs",
        write_scope=SCOPE_FIELD,
        create="`measured_on` falls within the program's dates (422); a frozen program takes "
        "none (409).",
        update="The same checks as on create.",
        restore=False,
    ),
    **_family(
        "budget-lines",
        "budget_lines",
        SCOPE_PROGRAM,
        read_resource="programs",
        create="Quantity times unit cost (integer rupiah) gives the line's total; the program's "
        "`budget_amount` is their sum. A frozen program takes none (409).",
        update="The total is computed again.",
        restore=False,
    ),
    **_family(
        "needs-assessments",
        "needs_assessments",
        SCOPE_COMMUNITY + " Partners never see assessments.",
        write_scope=SCOPE_FIELD,
        create="Starts `planned`. `facilitator_id` names a facilitator; `completed_on` is not "
        "before `started_on` (422).",
        update="A validated or cancelled assessment can no longer change (409).",
    ),
    "needs-assessments-transition": Doc(
        "needs_assessments",
        WRITE,
        scope=SCOPE_FIELD,
        rules=(
            "planned → in_progress → completed → validated, or cancelled. Validation needs "
            "at least one finding and one ballot (409) and freezes the findings. An illegal "
            "move is 409 with the `allowed` moves.",
        ),
    ),
    **_family(
        "findings",
        "findings",
        SCOPE_COMMUNITY,
        read_resource="needs_assessments",
        write_scope=SCOPE_FIELD,
        create="A problem, need or potential with a category; `severity` (1-5) only for "
        "problems and needs (422). A validated assessment's findings are frozen (409).",
        update="The same checks as on create.",
        restore=False,
    ),
    "ballots-list": Doc("needs_assessments", READ, scope=SCOPE_COMMUNITY, rules=(LIST_RULES,)),
    "ballots-create": Doc(
        "ballots",
        WRITE,
        scope=SCOPE_FIELD,
        rules=(
            "One ballot per person and assessment (409): a ranking of this assessment's "
            "problems and needs, each at most once (422). The person must belong to the "
            "assessment's community and have active consent for `needs_assessment` (409). "
            "Ballots close when the assessment is validated or cancelled (409).",
        ),
    ),
    "ballots-withdraw": Doc(
        "ballots",
        WRITE,
        scope=SCOPE_FIELD,
        rules=("Until the assessment is validated (409); the priorities are recounted.",),
    ),
    "needs-assessments-priorities": Doc(
        "needs_assessments",
        READ,
        scope=SCOPE_COMMUNITY,
        rules=(
            "The modified Borda count of the ballots: a ballot ranking k findings gives k "
            "points to its first, k-1 to the next, ... 1 to its last, 0 to the unranked; ties "
            "go to more first places, then higher severity, then title.",
        ),
    ),
    **_family(
        "partners",
        "partners",
        "Partner users see only their own organisation.",
        create="An organisation (NGO, local government, private sector, academia...) that "
        "funds or supports programs.",
        update="",
    ),
    **_family(
        "partnerships",
        "partnerships",
        "Partners see their organisation's partnerships; facilitators those of the programs "
        "they see.",
        create="The partner and the program must exist (422); one role per partner and "
        "program (409); `end_date` not before `start_date`. Starts `proposed`.",
        update="A completed or terminated partnership can no longer change (409).",
    ),
    "partnerships-transition": Doc(
        "partnerships",
        WRITE,
        rules=(
            "proposed → active → completed, or terminated. An illegal move is 409 with the "
            "`allowed` moves.",
        ),
    ),
    "partnerships-transitions-list": Doc("partnerships", READ, rules=()),
    **_family(
        "contributions",
        "contributions",
        "Partners see their organisation's partnerships only.",
        create="Money (integer rupiah), goods, expertise or facilities given under a "
        "partnership, on a date within its dates (422). Not on a terminated partnership, nor "
        "before it is active; partners record on active partnerships only (409).",
        update="Partners change only the contributions they recorded (403).",
        restore=False,
    ),
    "service-accounts-list": Doc("service_accounts", READ, rules=(LIST_RULES,)),
    "service-accounts-get": Doc("service_accounts", READ, rules=(GET_RULES,)),
    "service-accounts-create": Doc(
        "service_accounts",
        WRITE,
        rules=(
            "A machine client (`client_credentials`) for a partner organisation (then "
            "`organization_id` is required) or an analyst. The `client_secret` is shown only "
            "in this answer and never stored in clear.",
        ),
    ),
    "service-accounts-update": Doc("service_accounts", WRITE, rules=(UPDATE_RULES,)),
    "service-accounts-delete": Doc("service_accounts", DELETE, rules=(DELETE_RULES,)),
    "service-accounts-rotate": Doc(
        "service_accounts",
        WRITE,
        rules=(
            "A new secret, shown once; the old one keeps working for the grace period. A "
            "revoked account cannot rotate (409).",
        ),
    ),
    "service-accounts-revoke": Doc(
        "service_accounts",
        WRITE,
        rules=("The account's tokens and secrets stop working at once.",),
    ),
    **_family(
        "users",
        "users",
        "",
        create="A unique email (409); a partner user needs an `organization_id`, and only "
        "partner users have one (422). Passwords have at least 10 characters.",
        update="Admins cannot demote or disable themselves (422); a disabled user's tokens "
        "stop working at once.",
        delete="Admins cannot delete themselves (422).",
    ),
    "reports-participation": Doc(
        "reports",
        READ,
        scope="Counted within the caller's scope; partners see the programs of their partnerships.",
        rules=("Aggregates only, never a person. `date_to` is not before `date_from` (422).",),
    ),
    "reports-program-progress": Doc(
        "reports",
        READ,
        scope=SCOPE_PROGRAM,
        rules=("Partners may read the progress of their programs only (403).",),
    ),
    "reports-needs-coverage": Doc("reports", READ, scope=SCOPE_COMMUNITY, rules=()),
    "reports-partnerships": Doc("reports", READ, scope=SCOPE_PROGRAM, rules=()),
    "reports-development": Doc("reports", READ, scope=SCOPE_COMMUNITY, rules=()),
    "audit-events-list": Doc(
        "audit_events",
        READ,
        rules=(
            "Who did what to which resource, when, with which request id and which field "
            "names; values of personal fields are never recorded.",
            LIST_RULES,
        ),
    ),
}


def who_may(resource: str, action: str) -> str:
    roles = PERMISSIONS.get((resource, action), frozenset())
    names = [ROLE_NAMES[r] for r in ROLE_ORDER if r in roles]
    if not names:
        return "nobody"
    if len(names) == len(ROLE_ORDER):
        return "every role (admins, coordinators, facilitators, analysts, partners)"
    return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]


def errors_text(operation: dict[str, Any]) -> str:
    statuses = sorted(int(s) for s in operation.get("responses", {}) if s[0] in "45")
    lines = [f"- {s}: {ERRORS.get(s, 'see `detail`')}" for s in statuses]
    return "**Errors** (`application/problem+json`, in the `Accept-Language`):\n" + "\n".join(lines)


def who_text(doc: Doc) -> str:
    if doc.who is not None:
        who = doc.who[:1].upper() + doc.who[1:]
    elif doc.resource and doc.action:
        who = who_may(doc.resource, doc.action)
        who = who[:1].upper() + who[1:]
        if doc.action == APPROVE:
            who += " (approving)"
    else:
        who = "Any authenticated caller"
    return f"**Who may call it:** {who}." + (f" {doc.scope}" if doc.scope else "")


def describe(doc: Doc, operation: dict[str, Any]) -> str:
    parts = [who_text(doc)]
    rules = " ".join(r for r in doc.rules if r)
    if rules:
        parts.append(f"**Rules:** {rules}")
    parts.append(errors_text(operation))
    return "\n\n".join(parts)


def add_descriptions(document: dict[str, Any]) -> None:
    """Describe every operation of ``document`` that its router left without a description,
    and end every description with the errors the operation documents."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            own = operation.get("description")
            doc = DOCS.get(operation.get("operationId", ""))
            if own:
                if doc is not None and "Who may call it" not in own:
                    own = who_text(doc) + "\n\n" + own.strip()
                if "**Errors" not in own:  # the router's text, then the errors it documents
                    own = own.rstrip() + "\n\n" + errors_text(operation)
                operation["description"] = own
                continue
            if doc is not None:
                operation["description"] = describe(doc, operation)


def add_operation_examples(document: dict[str, Any]) -> None:
    """Examples of the answers whose schema is open (``dict``): reports and exports."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            example = OPERATION_EXAMPLES.get(operation.get("operationId", ""))
            entry = operation.get("responses", {}).get("200", {}).get("content", {})
            media = entry.get("application/json")
            if example is not None and media is not None and not media.get("example"):
                media["example"] = example


def add_reference(document: dict[str, Any]) -> None:
    """What the reference teaches beyond the schemas: descriptions and open examples."""
    add_descriptions(document)
    add_operation_examples(document)


__all__ = ["DELETE", "DOCS", "RESTORE", "WRITE", "add_reference", "describe"]
