"""The template-style peer: GET /communities/{id} the way the FastAPI full-stack template
writes an endpoint, to compare Berdaya with what most FastAPI + SQLModel services are.

A synchronous ``def`` endpoint (run in the thread pool), a SQLModel ``Session`` per request
from a synchronous engine (psycopg 3), the caller's bearer token decoded and their user
read with ``session.get`` (the template's ``get_current_user``), then the row read with
``session.get`` and returned through a ``response_model``. Nothing else: no scoping, ETags
or audit. bench/run.py measures it in the same run as Berdaya and the floor.

    PEER_DSN=postgresql+psycopg://... PEER_SECRET=... uvicorn peer:app --app-dir bench
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import OAuth2PasswordBearer
from jose import JWTError, jwt
from sqlmodel import Session, create_engine

from app.auth.models import User
from app.communities.models import Community
from app.communities.schemas import CommunityRead

ALGORITHM = "HS256"
# The template's engine: SQLAlchemy's default pool (5 connections, 10 more on demand).
engine = create_engine(os.environ.get("PEER_DSN", "postgresql+psycopg://"))
bearer = OAuth2PasswordBearer(tokenUrl="/login/access-token")
app = FastAPI()


def get_db() -> Iterator[Session]:
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]


def get_current_user(session: SessionDep, token: Annotated[str, Depends(bearer)]) -> User:
    try:
        payload = jwt.decode(token, os.environ["PEER_SECRET"], algorithms=[ALGORITHM])
    except JWTError:
        raise HTTPException(status_code=403, detail="Could not validate credentials") from None
    user = session.get(User, uuid.UUID(payload["sub"]))
    if user is None or not user.is_active:
        raise HTTPException(status_code=403, detail="Inactive user")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


@app.get("/ping")
def ping() -> dict[str, bool]:
    return {"ok": True}


@app.get("/communities/{item_id}", response_model=CommunityRead)
def read_community(session: SessionDep, current_user: CurrentUser, item_id: uuid.UUID) -> Community:
    community = session.get(Community, item_id)
    if community is None or community.deleted_at is not None:
        raise HTTPException(status_code=404, detail="Community not found")
    return community
