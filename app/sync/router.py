"""Endpoints of field sync (API.md §6): push a device's mutations, pull the changes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.auth.deps import PrincipalDep, SessionDep
from app.core.errors import problem_responses
from app.core.http import model_response
from app.core.pagination import CURSOR_PATTERN, MAX_LIMIT
from app.core.pii import PersonalDep
from app.sync import service
from app.sync.schemas import ChangesPage, PushRequest, PushResult

router = APIRouter(prefix="/sync", tags=["sync"])


@router.post(
    "/push",
    name="sync-push",
    response_model=PushResult,
    summary="Apply a device's offline mutations, in order, each on its own",
    description=(
        "Admins, coordinators and facilitators (analysts and partners: 403). Up to 500 "
        "mutations (a body of at most 1 MiB), applied in order; a mutation may use a row "
        "made by an earlier one (a new person, then their participation). Each is "
        "applied whole or not at all, through the same rules, scope and audit as the "
        "resource's PUT (`upsert`: without `base_version` a create, with it a replace "
        "of that version) or DELETE. One result per mutation: `applied` (`id`, "
        "`version`), `conflict` (the row changed since `base_version`, or the id is "
        "taken by another body: `current` is the server's row as a GET answers you; "
        "nothing applied), `rejected` (`errors`, as in a 4xx problem; nothing applied) "
        "or `duplicate` (this `mutation_id` was answered before for this device: the "
        "first answer, `first_status`, nothing applied again). A conflict or rejection "
        "never stops the mutations after it. Answers are remembered per device at "
        "least 30 days; a push cut off before its answer applied nothing or is answered "
        "again as duplicates. Pushes of one device run one after another."
    ),
    responses=problem_responses(401, 403, 413, 422, 429),
)
async def push(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    body: PushRequest,
) -> Response:
    limit: int = request.app.state.settings.nik_collisions_per_hour
    result = await service.push(session, principal, personal, body, collision_limit=limit)
    # no-store: results may carry people's data (`current`), never kept for replay.
    return model_response(request, result, headers={"Cache-Control": "no-store"})


@router.get(
    "/changes",
    name="sync-changes",
    response_model=ChangesPage,
    summary="Pull what changed in your scope since your cursor",
    description=(
        "Admins, coordinators and facilitators (analysts and partners: 403). Without a "
        "cursor: a first sync of everything you may read (communities, people, needs "
        "assessments, findings, ballots, programs, activities, indicators, "
        "measurements, participation records, parents first), then what changed. "
        "`data` is exactly what a GET answers you (NIK masked). Deleted rows come as "
        "`delete`; a community taken out of a facilitator's assignments as one "
        "`leave_scope` (drop everything of it); a community assigned again comes back "
        "as upserts. `next_cursor` is never null: keep it for the next pull; "
        "`has_more` says whether to pull again now. A cursor never skips a change, "
        "even one committed late by a long transaction (changes are handed out only "
        "below the oldest transaction still running). The change log is kept at least "
        "180 days (`berdaya sync-purge`); an older cursor answers 410 "
        "(`.../sync-reset`): sync again without a cursor. `community_id` narrows the "
        "feed to one community (a cursor is valid with the community_id it was made with)."
    ),
    responses=problem_responses(401, 403, 410, 422),
)
async def changes(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    cursor: Annotated[
        str | None,
        Query(
            pattern=CURSOR_PATTERN,
            max_length=400,
            description="`next_cursor` of the previous pull; absent for a first sync",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Changes per page")] = 500,
    community_id: Annotated[
        uuid.UUID | None, Query(description="Only this community's rows")
    ] = None,
) -> Response:
    page = await service.changes(
        session,
        principal,
        personal,
        cursor_text=cursor,
        limit=limit,
        community_id=community_id,
    )
    return model_response(request, page, headers={"Cache-Control": "no-store"})
