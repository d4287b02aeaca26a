"""Rollups of participation that the reports read instead of the raw records.

Why: ``GET /reports/participation`` over the whole country grouped a million records per
call (seconds). These tables hold the same facts pre-aggregated, kept by the writing
transaction itself (migration 0012): a statement-level trigger on ``participation_records``
turns every INSERT, UPDATE (soft delete, restore, a changed date, level, role or context)
and DELETE, single or batch, into a delta of live records queued in
``report_participation_queue``; a deferred constraint trigger applies the transaction's
netted deltas when it commits (``report_participation_delta``), so rollup rows are locked
only during the commit and always in one order (no deadlocks between writers whose
transactions run several statements). A row trigger on ``people`` moves a person's
counts when their sex, birth year/decade (erasure keeps only the decade) or disability
change. A report never lags: its ``as_of`` is the moment of the read.

People must be counted **distinctly**: a person with ten records in two programs and two
villages is one person, which no sum of per-day counts gives. How each question is
answered exactly:

* records by level and role: sums over ``report_participation_levels`` (per community,
  program, level, role); with dates, ``report_participation_months`` for the whole months
  inside the range and ``report_participation_days`` for the days at either end, so a
  year costs twelve months, not every activity day.
* people and records by sex, age band (from ``eff_year``: birth year, else the middle of
  the birth decade, -1 unknown) and disability, over a set of communities, all dates:
  ``report_participation_groups`` holds per community the people with a live record
  there, by those attributes. A person in several of the chosen communities is counted
  once per community there, so the report subtracts the extra counts of the few people
  whose records span communities (``report_participation_spread.communities > 1``, read
  through ``report_participation_members``).
* the same within dates: ``report_participation_steps``. Each person's days in a
  community, sorted, give steps (day, previous day; -infinity first); a person has a day
  in [from, to] exactly when one of their steps has previous < from <= day <= to: the
  step that crosses ``from``, found through a GiST index on (community, ``daterange(prev_day,
  day, '(]')``), so only crossing steps are read. Counting them counts each person once.
  Decision makers have their own steps (``dm``) over their decision-maker days. Records
  by those attributes come from ``report_participation_attr_months`` (whole months) and
  the steps of the days at either end (one step per record).
* with a program: ``report_participation_people`` (one row per community, program and
  person with the days of their records), grouped by person at read time: a program
  spans a few villages, so this stays small.

``report_participation_members`` (community, person, the days of their live records)
is the state the steps are derived from, and ``report_participation_spread`` (person:
in how many communities) is also the per-person lock under which both triggers change
a person's rows, so concurrent writers cannot compute steps from a stale sequence.

``program_key`` is the program id, or the nil UUID for records without a program. Rows
whose counts fall to zero may stay (sums ignore them); members and per-program rows go.
``tests/reports/test_rollups.py`` compares every answer with the raw computation on
randomised data, and each table with a recomputation from scratch.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Column, Date, Index, Integer, String, Text, Uuid, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

NO_PROGRAM = uuid.UUID(int=0)


class ReportParticipationDay(SQLModel, table=True):
    __tablename__ = "report_participation_days"
    __table_args__ = (
        Index("ix_report_participation_days_program_key", "program_key"),
        Index("ix_report_participation_days_day", "day"),
    )

    community_id: uuid.UUID = Field(primary_key=True)
    program_key: uuid.UUID = Field(primary_key=True)
    day: dt.date = Field(sa_type=Date, primary_key=True)
    level: str = Field(sa_type=String(20), primary_key=True)
    role: str = Field(sa_type=String(20), primary_key=True)
    records: int = Field(nullable=False)


class ReportParticipationPerson(SQLModel, table=True):
    __tablename__ = "report_participation_people"
    __table_args__ = (Index("ix_report_participation_people_program_key", "program_key"),)

    community_id: uuid.UUID = Field(primary_key=True)
    program_key: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(primary_key=True)
    records: int = Field(nullable=False)
    dm_records: int = Field(nullable=False)
    days: list[dt.date] = Field(sa_column=Column(ARRAY(Date()), nullable=False))
    dm_days: list[dt.date] = Field(sa_column=Column(ARRAY(Date()), nullable=False))


class ReportParticipationLevel(SQLModel, table=True):
    __tablename__ = "report_participation_levels"

    community_id: uuid.UUID = Field(primary_key=True)
    program_key: uuid.UUID = Field(primary_key=True)
    level: str = Field(sa_type=String(20), primary_key=True)
    role: str = Field(sa_type=String(20), primary_key=True)
    records: int = Field(nullable=False)


class ReportParticipationMember(SQLModel, table=True):
    __tablename__ = "report_participation_members"
    __table_args__ = (Index("ix_report_participation_members_person_id", "person_id"),)

    community_id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(primary_key=True)
    records: int = Field(nullable=False)
    dm_records: int = Field(nullable=False)
    days: list[dt.date] = Field(sa_column=Column(ARRAY(Date()), nullable=False))
    dm_days: list[dt.date] = Field(sa_column=Column(ARRAY(Date()), nullable=False))


class ReportParticipationSpread(SQLModel, table=True):
    __tablename__ = "report_participation_spread"
    __table_args__ = (
        Index(
            "ix_report_participation_spread_several",
            "person_id",
            postgresql_where=text("communities > 1"),
        ),
    )

    person_id: uuid.UUID = Field(primary_key=True)
    communities: int = Field(nullable=False)


class ReportParticipationGroup(SQLModel, table=True):
    __tablename__ = "report_participation_groups"

    community_id: uuid.UUID = Field(primary_key=True)
    sex: str = Field(sa_type=String(10), primary_key=True)
    eff_year: int = Field(primary_key=True)
    disability: bool = Field(primary_key=True)
    people: int = Field(nullable=False)
    records: int = Field(nullable=False)
    dm_people: int = Field(nullable=False)


class ReportParticipationStep(SQLModel, table=True):
    __tablename__ = "report_participation_steps"
    __table_args__ = (
        Index("ix_report_participation_steps_day", "day"),
        # The steps crossing a date d (prev_day < d <= day): ``span @> d``.
        Index(
            "ix_report_participation_steps_span",
            "community_id",
            text("daterange(prev_day, day, '(]')"),
            postgresql_using="gist",
        ),
    )

    community_id: uuid.UUID = Field(primary_key=True)
    dm: bool = Field(primary_key=True)
    sex: str = Field(sa_type=String(10), primary_key=True)
    eff_year: int = Field(primary_key=True)
    disability: bool = Field(primary_key=True)
    day: dt.date = Field(sa_type=Date, primary_key=True)
    prev_day: dt.date = Field(sa_type=Date, primary_key=True)
    people: int = Field(nullable=False)


class ReportParticipationMonth(SQLModel, table=True):
    """Records per (community, program, month, level, role): dates covering whole months."""

    __tablename__ = "report_participation_months"

    community_id: uuid.UUID = Field(primary_key=True)
    program_key: uuid.UUID = Field(primary_key=True)
    month: dt.date = Field(sa_type=Date, primary_key=True)
    level: str = Field(sa_type=String(20), primary_key=True)
    role: str = Field(sa_type=String(20), primary_key=True)
    records: int = Field(nullable=False)


class ReportParticipationAttrMonth(SQLModel, table=True):
    """Records per (community, sex, eff_year, disability, month)."""

    __tablename__ = "report_participation_attr_months"

    community_id: uuid.UUID = Field(primary_key=True)
    sex: str = Field(sa_type=String(10), primary_key=True)
    eff_year: int = Field(primary_key=True)
    disability: bool = Field(primary_key=True)
    month: dt.date = Field(sa_type=Date, primary_key=True)
    records: int = Field(nullable=False)


class ReportParticipationQueue(SQLModel, table=True):
    """The deltas of records a running transaction wrote (one row per statement), applied
    to the rollups at its commit by a deferred trigger and deleted then (UNLOGGED: a row
    never outlives its transaction)."""

    __tablename__ = "report_participation_queue"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    id: uuid.UUID = Field(
        primary_key=True, sa_column_kwargs={"server_default": text("gen_random_uuid()")}
    )
    cs: list[uuid.UUID] = Field(sa_column=Column(ARRAY(Uuid()), nullable=False))
    ps: list[uuid.UUID] = Field(sa_column=Column(ARRAY(Uuid()), nullable=False))
    pes: list[uuid.UUID] = Field(sa_column=Column(ARRAY(Uuid()), nullable=False))
    ds: list[dt.date] = Field(sa_column=Column(ARRAY(Date()), nullable=False))
    ls: list[str] = Field(sa_column=Column(ARRAY(Text()), nullable=False))
    rs: list[str] = Field(sa_column=Column(ARRAY(Text()), nullable=False))
    ss: list[int] = Field(sa_column=Column(ARRAY(Integer()), nullable=False))
