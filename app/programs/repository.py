"""Every query of programs and what hangs under them: activities, indicators with their
measurements, budget lines. A child is visible when its program is (``program_scope``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.policy import program_scope
from app.auth.repository import ScopedRepository
from app.core.pagination import Keyset
from app.core.principal import Principal
from app.programs import service
from app.programs.models import Activity, BudgetLine, Indicator, Measurement, Program

RESOURCE = "programs"


class ProgramRepository(ScopedRepository[Program]):
    model = Program
    resource = RESOURCE
    label = "program"
    keyset = Keyset(
        columns={
            "created_at": Program.created_at,
            "updated_at": Program.updated_at,
            "code": Program.code,
            "title": Program.title,
        },
        id_column=Program.id,  # type: ignore[arg-type]
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        return program_scope(principal, Program.id)

    async def before_restore(self, session: AsyncSession, entity: Program) -> None:
        await service.ensure_code_free(session, entity.code, exclude=entity.id)


class ProgramChildRepository(ScopedRepository[Any]):
    """A table hanging under a program (``program_id``): visible when its program is."""

    def base_query(self, principal: Principal, *, include_deleted: bool = False) -> Select[Any]:
        visible = select(Program.id).where(
            program_scope(principal, Program.id), Program.deleted_at.is_(None)
        )
        stmt = select(self.model).where(self.model.program_id.in_(visible))
        if not include_deleted:
            stmt = stmt.where(self.model.deleted_at.is_(None))
        return stmt


class ActivityRepository(ProgramChildRepository):
    model = Activity
    resource = "activities"
    label = "activity"
    keyset = Keyset(
        columns={
            "created_at": Activity.created_at,
            "updated_at": Activity.updated_at,
            "scheduled_start": Activity.scheduled_start,
            "title": Activity.title,
        },
        id_column=Activity.id,  # type: ignore[arg-type]
    )


class IndicatorRepository(ProgramChildRepository):
    model = Indicator
    resource = "indicators"
    label = "indicator"
    keyset = Keyset(
        columns={
            "created_at": Indicator.created_at,
            "updated_at": Indicator.updated_at,
            "name": Indicator.name,
        },
        id_column=Indicator.id,  # type: ignore[arg-type]
    )


class BudgetLineRepository(ProgramChildRepository):
    model = BudgetLine
    resource = "budget_lines"
    label = "budget line"
    keyset = Keyset(
        columns={"created_at": BudgetLine.created_at, "updated_at": BudgetLine.updated_at},
        id_column=BudgetLine.id,  # type: ignore[arg-type]
    )


class MeasurementRepository(ScopedRepository[Measurement]):
    model = Measurement
    resource = "measurements"
    label = "measurement"
    keyset = Keyset(
        columns={
            "created_at": Measurement.created_at,
            "updated_at": Measurement.updated_at,
            "measured_on": Measurement.measured_on,
        },
        id_column=Measurement.id,  # type: ignore[arg-type]
        default="measured_on",
    )

    def base_query(self, principal: Principal, *, include_deleted: bool = False) -> Select[Any]:
        visible = (
            select(Indicator.id)
            .join(Program, Program.id == Indicator.program_id)
            .where(
                program_scope(principal, Program.id),
                Program.deleted_at.is_(None),
                Indicator.deleted_at.is_(None),
            )
        )
        stmt = select(Measurement).where(col(Measurement.indicator_id).in_(visible))
        if not include_deleted:
            stmt = stmt.where(Measurement.deleted_at.is_(None))
        return stmt


programs = ProgramRepository()
activities = ActivityRepository()
indicators = IndicatorRepository()
budget_lines = BudgetLineRepository()
measurements = MeasurementRepository()
