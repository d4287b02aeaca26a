"""report rollups (issue 21): participation pre-aggregated for the reports, kept by
triggers in the writing transaction

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 11:00:00+00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Reviewed by hand (issue 21): nine new tables derived from participation_records (and
# the sex, birth year/decade and disability of people), a queue of pending deltas, the SQL
# functions and triggers that keep them within the writing transaction (applied as it
# commits), and a backfill from the rows already there. Nothing existing is rewritten;
# the downgrade drops what the upgrade created (btree_gist stays: see the index).
# app/reports/models.py explains each table and how people stay distinct.
# Records without a program roll up under the nil UUID (a primary key holds no NULL).

FUNCTIONS = [
    # Multiset arithmetic on the sorted day arrays (one entry per live record).
    """
    CREATE FUNCTION report_days_plus(days date[], added date[]) RETURNS date[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT coalesce(array_agg(d ORDER BY d), '{}'::date[])
        FROM unnest(days || added) AS d
    $$
    """,
    """
    CREATE FUNCTION report_days_minus(days date[], removed date[]) RETURNS date[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT coalesce(array_agg(d ORDER BY d), '{}'::date[])
        FROM (SELECT d, row_number() OVER (PARTITION BY d) AS n FROM unnest(days) AS d) kept
        WHERE kept.n > (SELECT count(*) FROM unnest(removed) AS r WHERE r = kept.d)
    $$
    """,
    # The year the age band is computed from (people.service.age_band): the birth year,
    # else the middle of the birth decade (erased people), else -1 (unknown).
    """
    CREATE FUNCTION report_eff_year(birth_year int, birth_decade int) RETURNS int
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT coalesce(birth_year, birth_decade + 5, -1)
    $$
    """,
    # A person's steps: each day paired with the day before it (-infinity for the first).
    # A person has a day in [lo, hi] exactly when one step has lo <= day <= hi and
    # prev_day < lo (the first of their days inside): counting steps counts people once.
    """
    CREATE FUNCTION report_steps(days date[]) RETURNS TABLE (day date, prev_day date)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT d, lag(d, 1, '-infinity'::date) OVER (ORDER BY d) FROM unnest(days) AS d
    $$
    """,
    # The (community, person) members a delta touches: their state now and after it.
    """
    CREATE FUNCTION report_member_changes(
        cs uuid[], pes uuid[], ds date[], rs text[], ss int[]
    ) RETURNS TABLE (
        community_id uuid, person_id uuid,
        old_records int, old_dm int, old_days date[], old_dm_days date[],
        new_records int, new_dm int, new_days date[], new_dm_days date[]
    ) LANGUAGE sql STABLE AS $$
        WITH delta AS (
            SELECT x.c, x.pe, sum(x.s)::int AS n,
                   coalesce(sum(x.s) FILTER (WHERE x.r = 'decision_maker'), 0)::int AS dm,
                   coalesce(array_agg(x.d) FILTER (WHERE x.s > 0), '{}') AS added,
                   coalesce(array_agg(x.d) FILTER (WHERE x.s < 0), '{}') AS removed,
                   coalesce(array_agg(x.d) FILTER (
                       WHERE x.s > 0 AND x.r = 'decision_maker'), '{}') AS dm_added,
                   coalesce(array_agg(x.d) FILTER (
                       WHERE x.s < 0 AND x.r = 'decision_maker'), '{}') AS dm_removed
            FROM unnest(cs, pes, ds, rs, ss) AS x(c, pe, d, r, s)
            GROUP BY x.c, x.pe
        )
        SELECT delta.c, delta.pe,
               coalesce(m.records, 0), coalesce(m.dm_records, 0),
               coalesce(m.days, '{}'), coalesce(m.dm_days, '{}'),
               coalesce(m.records, 0) + delta.n, coalesce(m.dm_records, 0) + delta.dm,
               -- the multiset functions only where there is something to remove (they
               -- cost a call each); additions are merged inline
               CASE WHEN cardinality(delta.removed) = 0 THEN plus.days
                    ELSE report_days_minus(plus.days, delta.removed) END,
               CASE WHEN cardinality(delta.dm_added) + cardinality(delta.dm_removed) = 0
                    THEN coalesce(m.dm_days, '{}')
                    ELSE report_days_minus(report_days_plus(coalesce(m.dm_days, '{}'),
                                                            delta.dm_added),
                                           delta.dm_removed) END
        FROM delta
        LEFT JOIN report_participation_members m
            ON m.community_id = delta.c AND m.person_id = delta.pe
        CROSS JOIN LATERAL (
            SELECT coalesce(array_agg(d ORDER BY d), '{}'::date[]) AS days
            FROM unnest(coalesce(m.days, '{}'::date[]) || delta.added) AS d
        ) plus
    $$
    """,
    # Applies a delta of records (+1 added, -1 removed; parallel arrays) to every rollup.
    # Locks: rows of each table are taken in key order, tables always in the same order,
    # so concurrent writers queue instead of deadlocking; the person's spread row is the
    # lock under which their members (and the person's attributes, see the people
    # trigger) change, inserted first when missing so that it exists to be locked.
    """
    CREATE FUNCTION report_participation_delta(
        cs uuid[], ps uuid[], pes uuid[], ds date[], ls text[], rs text[], ss int[]
    ) RETURNS void LANGUAGE plpgsql
    -- One plan per statement, kept for the session: re-planning these statements for
    -- every write (custom plans for array parameters) cost more than running them.
    SET plan_cache_mode = force_generic_plan AS $$
    BEGIN
        IF coalesce(cardinality(ss), 0) = 0 THEN
            RETURN;
        END IF;
        INSERT INTO report_participation_days AS t
            (community_id, program_key, day, level, role, records)
        SELECT x.c, x.p, x.d, x.l, x.r, sum(x.s)
        FROM unnest(cs, ps, ds, ls, rs, ss) AS x(c, p, d, l, r, s)
        GROUP BY x.c, x.p, x.d, x.l, x.r
        HAVING sum(x.s) <> 0
        ORDER BY x.c, x.p, x.d, x.l, x.r
        ON CONFLICT (community_id, program_key, day, level, role)
        DO UPDATE SET records = t.records + excluded.records;
        INSERT INTO report_participation_levels AS t
            (community_id, program_key, level, role, records)
        SELECT x.c, x.p, x.l, x.r, sum(x.s)
        FROM unnest(cs, ps, ls, rs, ss) AS x(c, p, l, r, s)
        GROUP BY x.c, x.p, x.l, x.r
        HAVING sum(x.s) <> 0
        ORDER BY x.c, x.p, x.l, x.r
        ON CONFLICT (community_id, program_key, level, role)
        DO UPDATE SET records = t.records + excluded.records;
        INSERT INTO report_participation_months AS t
            (community_id, program_key, month, level, role, records)
        SELECT x.c, x.p, date_trunc('month', x.d)::date, x.l, x.r, sum(x.s)
        FROM unnest(cs, ps, ds, ls, rs, ss) AS x(c, p, d, l, r, s)
        GROUP BY 1, 2, 3, 4, 5
        HAVING sum(x.s) <> 0
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (community_id, program_key, month, level, role)
        DO UPDATE SET records = t.records + excluded.records;
        -- per (community, program, person)
        IF -1 = ANY (ss) THEN
            UPDATE report_participation_people t
            SET records = t.records - k.n,
                dm_records = t.dm_records - k.dm,
                days = report_days_minus(t.days, k.days),
                dm_days = report_days_minus(t.dm_days, k.dm_days)
            FROM (
                SELECT x.c, x.p, x.pe, count(*) AS n,
                       count(*) FILTER (WHERE x.r = 'decision_maker') AS dm,
                       array_agg(x.d) AS days,
                       coalesce(array_agg(x.d) FILTER (WHERE x.r = 'decision_maker'),
                                '{}'::date[]) AS dm_days
                FROM unnest(cs, ps, pes, ds, rs, ss) AS x(c, p, pe, d, r, s)
                WHERE x.s < 0
                GROUP BY x.c, x.p, x.pe
                ORDER BY x.c, x.p, x.pe
            ) k
            WHERE t.community_id = k.c AND t.program_key = k.p AND t.person_id = k.pe;
            DELETE FROM report_participation_people t
            USING unnest(cs, ps, pes, ss) AS x(c, p, pe, s)
            WHERE x.s < 0 AND t.community_id = x.c AND t.program_key = x.p
              AND t.person_id = x.pe AND t.records <= 0;
        END IF;
        IF 1 = ANY (ss) THEN
            INSERT INTO report_participation_people AS t
                (community_id, program_key, person_id, records, dm_records, days, dm_days)
            SELECT x.c, x.p, x.pe, count(*),
                   count(*) FILTER (WHERE x.r = 'decision_maker'),
                   array_agg(x.d ORDER BY x.d),
                   coalesce(array_agg(x.d ORDER BY x.d) FILTER (WHERE x.r = 'decision_maker'),
                            '{}'::date[])
            FROM unnest(cs, ps, pes, ds, rs, ss) AS x(c, p, pe, d, r, s)
            WHERE x.s > 0
            GROUP BY x.c, x.p, x.pe
            ORDER BY x.c, x.p, x.pe
            ON CONFLICT (community_id, program_key, person_id) DO UPDATE SET
                records = t.records + excluded.records,
                dm_records = t.dm_records + excluded.dm_records,
                days = report_days_plus(t.days, excluded.days),
                dm_days = report_days_plus(t.dm_days, excluded.dm_days);
        END IF;
        -- per person and per (community, person): under the person's lock
        INSERT INTO report_participation_spread (person_id, communities)
        SELECT DISTINCT x.pe, 0 FROM unnest(pes) AS x(pe) ORDER BY 1
        ON CONFLICT (person_id) DO NOTHING;
        PERFORM 1 FROM report_participation_spread
        WHERE person_id = ANY (pes) ORDER BY person_id FOR UPDATE;
        INSERT INTO report_participation_attr_months AS t
            (community_id, sex, eff_year, disability, month, records)
        SELECT x.c, p.sex, report_eff_year(p.birth_year, p.birth_decade), p.disability,
               date_trunc('month', x.d)::date, sum(x.s)
        FROM unnest(cs, pes, ds, ss) AS x(c, pe, d, s) JOIN people p ON p.id = x.pe
        GROUP BY 1, 2, 3, 4, 5
        HAVING sum(x.s) <> 0
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (community_id, sex, eff_year, disability, month)
        DO UPDATE SET records = t.records + excluded.records;
        WITH ch AS MATERIALIZED (
            SELECT * FROM report_member_changes(cs, pes, ds, rs, ss)
        ), who AS MATERIALIZED (
            SELECT ch.*, p.sex, report_eff_year(p.birth_year, p.birth_decade) AS eff_year,
                   p.disability
            FROM ch JOIN people p ON p.id = ch.person_id
        ), steps AS (
            INSERT INTO report_participation_steps AS t
                (community_id, dm, sex, eff_year, disability, day, prev_day, people)
            SELECT k.community_id, k.dm, k.sex, k.eff_year, k.disability, k.day, k.prev_day,
                   sum(k.n)
            FROM (
                SELECT w.*, false AS dm, s.day, s.prev_day, -1 AS n
                FROM who w, LATERAL (
                    SELECT d AS day, lag(d, 1, '-infinity'::date) OVER (ORDER BY d) AS prev_day
                    FROM unnest(w.old_days) AS d) s
                UNION ALL
                SELECT w.*, false, s.day, s.prev_day, 1 FROM who w, LATERAL (
                    SELECT d AS day, lag(d, 1, '-infinity'::date) OVER (ORDER BY d) AS prev_day
                    FROM unnest(w.new_days) AS d) s
                UNION ALL
                SELECT w.*, true, s.day, s.prev_day, -1
                FROM who w, LATERAL (
                    SELECT d AS day, lag(d, 1, '-infinity'::date) OVER (ORDER BY d) AS prev_day
                    FROM unnest(w.old_dm_days) AS d) s
                UNION ALL
                SELECT w.*, true, s.day, s.prev_day, 1
                FROM who w, LATERAL (
                    SELECT d AS day, lag(d, 1, '-infinity'::date) OVER (ORDER BY d) AS prev_day
                    FROM unnest(w.new_dm_days) AS d) s
            ) k
            GROUP BY k.community_id, k.dm, k.sex, k.eff_year, k.disability, k.day, k.prev_day
            HAVING sum(k.n) <> 0
            ORDER BY k.community_id, k.dm, k.sex, k.eff_year, k.disability, k.day, k.prev_day
            ON CONFLICT (community_id, dm, sex, eff_year, disability, day, prev_day)
            DO UPDATE SET people = t.people + excluded.people
        ), groups AS (
            INSERT INTO report_participation_groups AS t
                (community_id, sex, eff_year, disability, people, records, dm_people)
            SELECT w.community_id, w.sex, w.eff_year, w.disability,
                   sum((w.new_records > 0)::int - (w.old_records > 0)::int),
                   sum(w.new_records - w.old_records),
                   sum((w.new_dm > 0)::int - (w.old_dm > 0)::int)
            FROM who w
            GROUP BY w.community_id, w.sex, w.eff_year, w.disability
            ORDER BY w.community_id, w.sex, w.eff_year, w.disability
            ON CONFLICT (community_id, sex, eff_year, disability) DO UPDATE SET
                people = t.people + excluded.people,
                records = t.records + excluded.records,
                dm_people = t.dm_people + excluded.dm_people
        ), spread AS (
            UPDATE report_participation_spread t
            SET communities = t.communities + k.n
            FROM (
                SELECT ch.person_id,
                       sum((ch.new_records > 0)::int - (ch.old_records > 0)::int) AS n
                FROM ch GROUP BY ch.person_id
            ) k
            WHERE t.person_id = k.person_id AND k.n <> 0
        ), gone AS (
            DELETE FROM report_participation_members m
            USING ch
            WHERE m.community_id = ch.community_id AND m.person_id = ch.person_id
              AND ch.new_records = 0
        )
        INSERT INTO report_participation_members AS t
            (community_id, person_id, records, dm_records, days, dm_days)
        SELECT ch.community_id, ch.person_id, ch.new_records, ch.new_dm, ch.new_days,
               ch.new_dm_days
        FROM ch WHERE ch.new_records > 0
        ORDER BY ch.community_id, ch.person_id
        ON CONFLICT (community_id, person_id) DO UPDATE SET
            records = excluded.records, dm_records = excluded.dm_records,
            days = excluded.days, dm_days = excluded.dm_days;
    END
    $$
    """,
    # The trigger on participation_records: the live rows a statement added (+1) and
    # removed (-1). An UPDATE that changes none of the counted columns (notes, hours,
    # version...) is no change.
    """
    CREATE FUNCTION report_participation_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        c uuid[]; p uuid[]; pe uuid[]; d date[]; l text[]; r text[]; s int[];
    BEGIN
        IF TG_OP = 'INSERT' THEN
            SELECT array_agg(community_id),
                   array_agg(coalesce(program_id, '00000000-0000-0000-0000-000000000000')),
                   array_agg(person_id), array_agg(date), array_agg(level::text),
                   array_agg(role::text), array_agg(1)
            INTO c, p, pe, d, l, r, s
            FROM new_rows WHERE deleted_at IS NULL;
        ELSIF TG_OP = 'DELETE' THEN
            SELECT array_agg(community_id),
                   array_agg(coalesce(program_id, '00000000-0000-0000-0000-000000000000')),
                   array_agg(person_id), array_agg(date), array_agg(level::text),
                   array_agg(role::text), array_agg(-1)
            INTO c, p, pe, d, l, r, s
            FROM old_rows WHERE deleted_at IS NULL;
        ELSE
            SELECT array_agg(x.community_id),
                   array_agg(coalesce(x.program_id, '00000000-0000-0000-0000-000000000000')),
                   array_agg(x.person_id), array_agg(x.date), array_agg(x.level::text),
                   array_agg(x.role::text), array_agg(x.sign)
            INTO c, p, pe, d, l, r, s
            FROM (
                SELECT o.community_id, o.program_id, o.person_id, o.date, o.level, o.role,
                       -1 AS sign
                FROM old_rows o JOIN new_rows n ON n.id = o.id
                WHERE o.deleted_at IS NULL AND (
                    n.deleted_at IS NOT NULL
                    OR (o.community_id, o.program_id, o.person_id, o.date, o.level, o.role)
                       IS DISTINCT FROM
                       (n.community_id, n.program_id, n.person_id, n.date, n.level, n.role))
                UNION ALL
                SELECT n.community_id, n.program_id, n.person_id, n.date, n.level, n.role,
                       1 AS sign
                FROM new_rows n JOIN old_rows o ON o.id = n.id
                WHERE n.deleted_at IS NULL AND (
                    o.deleted_at IS NOT NULL
                    OR (o.community_id, o.program_id, o.person_id, o.date, o.level, o.role)
                       IS DISTINCT FROM
                       (n.community_id, n.program_id, n.person_id, n.date, n.level, n.role))
            ) x;
        END IF;
        IF coalesce(cardinality(s), 0) > 0 THEN
            INSERT INTO report_participation_queue (cs, ps, pes, ds, ls, rs, ss)
            VALUES (c, p, pe, d, l, r, s);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    # At commit (a deferred constraint trigger on the queue): the transaction's deltas,
    # netted per record (inserted then deleted is nothing), applied at once. The rollup
    # rows are then locked only while the transaction commits, and always in the same
    # order, so writers whose transactions hold several statements cannot deadlock on
    # them. The queue only ever holds rows of transactions still running (each deletes
    # its own; others' uncommitted rows are invisible to it): UNLOGGED is enough.
    """
    CREATE FUNCTION report_participation_flush() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        c uuid[]; p uuid[]; pe uuid[]; d date[]; l text[]; r text[]; s int[];
    BEGIN
        WITH q AS (DELETE FROM report_participation_queue RETURNING *),
        net AS (
            SELECT x.c, x.p, x.pe, x.d, x.l, x.r, sum(x.s) AS n
            FROM q, unnest(q.cs, q.ps, q.pes, q.ds, q.ls, q.rs, q.ss)
                AS x(c, p, pe, d, l, r, s)
            GROUP BY x.c, x.p, x.pe, x.d, x.l, x.r
            HAVING sum(x.s) <> 0
        )
        SELECT array_agg(net.c), array_agg(net.p), array_agg(net.pe), array_agg(net.d),
               array_agg(net.l), array_agg(net.r), array_agg(sign(net.n)::int)
        INTO c, p, pe, d, l, r, s
        FROM net, generate_series(1, abs(net.n));
        PERFORM report_participation_delta(c, p, pe, d, l, r, s);
        RETURN NULL;
    END
    $$
    """,
    # The trigger on people: a changed sex, birth year/decade or disability moves the
    # person's counts from the old group to the new one, under the person's lock.
    """
    CREATE FUNCTION report_participation_person() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        old_year int := report_eff_year(OLD.birth_year, OLD.birth_decade);
        new_year int := report_eff_year(NEW.birth_year, NEW.birth_decade);
    BEGIN
        IF (OLD.sex, old_year, OLD.disability) IS NOT DISTINCT FROM
           (NEW.sex, new_year, NEW.disability) THEN
            RETURN NULL;
        END IF;
        INSERT INTO report_participation_spread (person_id, communities)
        VALUES (NEW.id, 0) ON CONFLICT (person_id) DO NOTHING;
        PERFORM 1 FROM report_participation_spread WHERE person_id = NEW.id FOR UPDATE;
        WITH m AS MATERIALIZED (
            SELECT * FROM report_participation_members WHERE person_id = NEW.id
        ), moved AS (
            SELECT m.*, OLD.sex AS sex, old_year AS eff_year, OLD.disability AS disability,
                   -1 AS n
            FROM m
            UNION ALL
            SELECT m.*, NEW.sex, new_year, NEW.disability, 1 FROM m
        ), steps AS (
            INSERT INTO report_participation_steps AS t
                (community_id, dm, sex, eff_year, disability, day, prev_day, people)
            SELECT k.community_id, k.dm, k.sex, k.eff_year, k.disability, k.day, k.prev_day,
                   sum(k.n)
            FROM (
                SELECT w.*, false AS dm, s.day, s.prev_day FROM moved w, report_steps(w.days) s
                UNION ALL
                SELECT w.*, true, s.day, s.prev_day FROM moved w, report_steps(w.dm_days) s
            ) k
            GROUP BY k.community_id, k.dm, k.sex, k.eff_year, k.disability, k.day, k.prev_day
            ORDER BY k.community_id, k.dm, k.sex, k.eff_year, k.disability, k.day, k.prev_day
            ON CONFLICT (community_id, dm, sex, eff_year, disability, day, prev_day)
            DO UPDATE SET people = t.people + excluded.people
        ), months AS (
            INSERT INTO report_participation_attr_months AS t
                (community_id, sex, eff_year, disability, month, records)
            SELECT w.community_id, w.sex, w.eff_year, w.disability,
                   date_trunc('month', d)::date, sum(w.n)
            FROM moved w, unnest(w.days) AS d
            GROUP BY 1, 2, 3, 4, 5
            ORDER BY 1, 2, 3, 4, 5
            ON CONFLICT (community_id, sex, eff_year, disability, month)
            DO UPDATE SET records = t.records + excluded.records
        )
        INSERT INTO report_participation_groups AS t
            (community_id, sex, eff_year, disability, people, records, dm_people)
        SELECT w.community_id, w.sex, w.eff_year, w.disability, sum(w.n),
               sum(w.n * w.records), sum(w.n * (w.dm_records > 0)::int)
        FROM moved w
        GROUP BY w.community_id, w.sex, w.eff_year, w.disability
        ORDER BY w.community_id, w.sex, w.eff_year, w.disability
        ON CONFLICT (community_id, sex, eff_year, disability) DO UPDATE SET
            people = t.people + excluded.people,
            records = t.records + excluded.records,
            dm_people = t.dm_people + excluded.dm_people;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION report_participation_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- DELETE, not TRUNCATE: the same TRUNCATE statement may list the rollups too.
        DELETE FROM report_participation_days;
        DELETE FROM report_participation_levels;
        DELETE FROM report_participation_people;
        DELETE FROM report_participation_members;
        DELETE FROM report_participation_spread;
        DELETE FROM report_participation_groups;
        DELETE FROM report_participation_steps;
        DELETE FROM report_participation_months;
        DELETE FROM report_participation_attr_months;
        DELETE FROM report_participation_queue;
        RETURN NULL;
    END
    $$
    """,
]

TRIGGERS = [
    """
    CREATE CONSTRAINT TRIGGER report_participation_flush
    AFTER INSERT ON report_participation_queue
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION report_participation_flush()
    """,
    """
    CREATE TRIGGER report_participation_insert AFTER INSERT ON participation_records
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_participation_apply()
    """,
    """
    CREATE TRIGGER report_participation_update AFTER UPDATE ON participation_records
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_participation_apply()
    """,
    """
    CREATE TRIGGER report_participation_delete AFTER DELETE ON participation_records
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_participation_apply()
    """,
    """
    CREATE TRIGGER report_participation_truncate AFTER TRUNCATE ON participation_records
    FOR EACH STATEMENT EXECUTE FUNCTION report_participation_truncate()
    """,
    """
    CREATE TRIGGER report_participation_person AFTER UPDATE ON people
    FOR EACH ROW
    WHEN (OLD.sex IS DISTINCT FROM NEW.sex
          OR OLD.birth_year IS DISTINCT FROM NEW.birth_year
          OR OLD.birth_decade IS DISTINCT FROM NEW.birth_decade
          OR OLD.disability IS DISTINCT FROM NEW.disability)
    EXECUTE FUNCTION report_participation_person()
    """,
]

LIVE = """
    SELECT community_id,
           coalesce(program_id, '00000000-0000-0000-0000-000000000000'::uuid) AS program_key,
           person_id, date, level, role
    FROM participation_records WHERE deleted_at IS NULL
"""
BACKFILL = [
    f"""
    INSERT INTO report_participation_days (community_id, program_key, day, level, role, records)
    SELECT community_id, program_key, date, level, role, count(*) FROM ({LIVE}) r
    GROUP BY 1, 2, 3, 4, 5
    """,
    f"""
    INSERT INTO report_participation_levels (community_id, program_key, level, role, records)
    SELECT community_id, program_key, level, role, count(*) FROM ({LIVE}) r
    GROUP BY 1, 2, 3, 4
    """,
    f"""
    INSERT INTO report_participation_months
        (community_id, program_key, month, level, role, records)
    SELECT community_id, program_key, date_trunc('month', date)::date, level, role, count(*)
    FROM ({LIVE}) r
    GROUP BY 1, 2, 3, 4, 5
    """,
    f"""
    INSERT INTO report_participation_attr_months
        (community_id, sex, eff_year, disability, month, records)
    SELECT r.community_id, p.sex, report_eff_year(p.birth_year, p.birth_decade), p.disability,
           date_trunc('month', r.date)::date, count(*)
    FROM ({LIVE}) r JOIN people p ON p.id = r.person_id
    GROUP BY 1, 2, 3, 4, 5
    """,
    f"""
    INSERT INTO report_participation_people
        (community_id, program_key, person_id, records, dm_records, days, dm_days)
    SELECT community_id, program_key, person_id, count(*),
           count(*) FILTER (WHERE role = 'decision_maker'),
           array_agg(date ORDER BY date),
           coalesce(array_agg(date ORDER BY date) FILTER (WHERE role = 'decision_maker'),
                    '{{}}'::date[])
    FROM ({LIVE}) r
    GROUP BY 1, 2, 3
    """,
    f"""
    INSERT INTO report_participation_members
        (community_id, person_id, records, dm_records, days, dm_days)
    SELECT community_id, person_id, count(*),
           count(*) FILTER (WHERE role = 'decision_maker'),
           array_agg(date ORDER BY date),
           coalesce(array_agg(date ORDER BY date) FILTER (WHERE role = 'decision_maker'),
                    '{{}}'::date[])
    FROM ({LIVE}) r
    GROUP BY 1, 2
    """,
    """
    INSERT INTO report_participation_spread (person_id, communities)
    SELECT person_id, count(*) FROM report_participation_members GROUP BY 1
    """,
    """
    INSERT INTO report_participation_groups
        (community_id, sex, eff_year, disability, people, records, dm_people)
    SELECT m.community_id, p.sex, report_eff_year(p.birth_year, p.birth_decade), p.disability,
           count(*), sum(m.records), count(*) FILTER (WHERE m.dm_records > 0)
    FROM report_participation_members m JOIN people p ON p.id = m.person_id
    GROUP BY 1, 2, 3, 4
    """,
    """
    INSERT INTO report_participation_steps
        (community_id, dm, sex, eff_year, disability, day, prev_day, people)
    SELECT m.community_id, k.dm, p.sex, report_eff_year(p.birth_year, p.birth_decade),
           p.disability, k.day, k.prev_day, count(*)
    FROM report_participation_members m
    JOIN people p ON p.id = m.person_id
    CROSS JOIN LATERAL (
        SELECT false AS dm, s.day, s.prev_day FROM report_steps(m.days) s
        UNION ALL
        SELECT true, s.day, s.prev_day FROM report_steps(m.dm_days) s
    ) k
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    """,
]

TABLES = [
    'report_participation_queue',
    'report_participation_attr_months',
    'report_participation_months',
    'report_participation_steps',
    'report_participation_groups',
    'report_participation_spread',
    'report_participation_members',
    'report_participation_people',
    'report_participation_levels',
    'report_participation_days',
]


def _days(name: str) -> sa.Column:
    return sa.Column(name, postgresql.ARRAY(sa.Date()), nullable=False)


def upgrade() -> None:
    op.create_table(
        'report_participation_days',
        sa.Column('community_id', sa.Uuid(), nullable=False),
        sa.Column('program_key', sa.Uuid(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('level', sa.String(length=20), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('records', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            'community_id', 'program_key', 'day', 'level', 'role',
            name=op.f('pk_report_participation_days'),
        ),
    )
    op.create_index(
        'ix_report_participation_days_program_key', 'report_participation_days',
        ['program_key'], unique=False,
    )
    op.create_table(
        'report_participation_levels',
        sa.Column('community_id', sa.Uuid(), nullable=False),
        sa.Column('program_key', sa.Uuid(), nullable=False),
        sa.Column('level', sa.String(length=20), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('records', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            'community_id', 'program_key', 'level', 'role',
            name=op.f('pk_report_participation_levels'),
        ),
    )
    op.create_table(
        'report_participation_people',
        sa.Column('community_id', sa.Uuid(), nullable=False),
        sa.Column('program_key', sa.Uuid(), nullable=False),
        sa.Column('person_id', sa.Uuid(), nullable=False),
        sa.Column('records', sa.Integer(), nullable=False),
        sa.Column('dm_records', sa.Integer(), nullable=False),
        _days('days'),
        _days('dm_days'),
        sa.PrimaryKeyConstraint(
            'community_id', 'program_key', 'person_id',
            name=op.f('pk_report_participation_people'),
        ),
    )
    op.create_index(
        'ix_report_participation_people_program_key', 'report_participation_people',
        ['program_key'], unique=False,
    )
    op.create_table(
        'report_participation_members',
        sa.Column('community_id', sa.Uuid(), nullable=False),
        sa.Column('person_id', sa.Uuid(), nullable=False),
        sa.Column('records', sa.Integer(), nullable=False),
        sa.Column('dm_records', sa.Integer(), nullable=False),
        _days('days'),
        _days('dm_days'),
        sa.PrimaryKeyConstraint(
            'community_id', 'person_id', name=op.f('pk_report_participation_members')
        ),
    )
    op.create_index(
        'ix_report_participation_members_person_id', 'report_participation_members',
        ['person_id'], unique=False,
    )
    op.create_table(
        'report_participation_spread',
        sa.Column('person_id', sa.Uuid(), nullable=False),
        sa.Column('communities', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('person_id', name=op.f('pk_report_participation_spread')),
    )
    op.create_index(
        'ix_report_participation_spread_several', 'report_participation_spread',
        ['person_id'], unique=False, postgresql_where=sa.text('communities > 1'),
    )
    op.create_table(
        'report_participation_groups',
        sa.Column('community_id', sa.Uuid(), nullable=False),
        sa.Column('sex', sa.String(length=10), nullable=False),
        sa.Column('eff_year', sa.Integer(), nullable=False),
        sa.Column('disability', sa.Boolean(), nullable=False),
        sa.Column('people', sa.Integer(), nullable=False),
        sa.Column('records', sa.Integer(), nullable=False),
        sa.Column('dm_people', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            'community_id', 'sex', 'eff_year', 'disability',
            name=op.f('pk_report_participation_groups'),
        ),
    )
    op.create_table(
        'report_participation_steps',
        sa.Column('community_id', sa.Uuid(), nullable=False),
        sa.Column('dm', sa.Boolean(), nullable=False),
        sa.Column('sex', sa.String(length=10), nullable=False),
        sa.Column('eff_year', sa.Integer(), nullable=False),
        sa.Column('disability', sa.Boolean(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('prev_day', sa.Date(), nullable=False),
        sa.Column('people', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            'community_id', 'dm', 'sex', 'eff_year', 'disability', 'day', 'prev_day',
            name=op.f('pk_report_participation_steps'),
        ),
    )
    op.create_index(
        'ix_report_participation_days_day', 'report_participation_days', ['day'], unique=False
    )
    op.create_index(
        'ix_report_participation_steps_day', 'report_participation_steps', ['day'], unique=False
    )
    # The steps that cross a date: prev_day < date <= day (the first day of a person
    # inside a range starting at that date), found per community without reading the
    # other steps, whatever plan is chosen (btree_gist: a uuid in a GiST index; a trusted
    # extension, left in place by the downgrade since other objects may use it).
    op.execute('CREATE EXTENSION IF NOT EXISTS btree_gist')
    op.create_index(
        'ix_report_participation_steps_span', 'report_participation_steps',
        ['community_id', sa.text("daterange(prev_day, day, '(]')")], unique=False,
        postgresql_using='gist',
    )
    op.create_table(
        'report_participation_months',
        sa.Column('community_id', sa.Uuid(), nullable=False),
        sa.Column('program_key', sa.Uuid(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('level', sa.String(length=20), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('records', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            'community_id', 'program_key', 'month', 'level', 'role',
            name=op.f('pk_report_participation_months'),
        ),
    )
    op.create_table(
        'report_participation_attr_months',
        sa.Column('community_id', sa.Uuid(), nullable=False),
        sa.Column('sex', sa.String(length=10), nullable=False),
        sa.Column('eff_year', sa.Integer(), nullable=False),
        sa.Column('disability', sa.Boolean(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('records', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            'community_id', 'sex', 'eff_year', 'disability', 'month',
            name=op.f('pk_report_participation_attr_months'),
        ),
    )
    op.create_table(
        'report_participation_queue',
        sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
        sa.Column('cs', postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column('ps', postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column('pes', postgresql.ARRAY(sa.Uuid()), nullable=False),
        _days('ds'),
        sa.Column('ls', postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column('rs', postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column('ss', postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_participation_queue')),
        prefixes=['UNLOGGED'],
    )
    for statement in FUNCTIONS + TRIGGERS + BACKFILL:
        op.execute(statement)
    # Statistics now: the reports' plans (prepared, generic after five calls) need them.
    op.execute(f'ANALYZE {", ".join(TABLES)}')


def downgrade() -> None:
    op.execute('DROP TRIGGER report_participation_person ON people')
    op.execute('DROP TRIGGER report_participation_flush ON report_participation_queue')
    for trigger in ('insert', 'update', 'delete', 'truncate'):
        op.execute(f'DROP TRIGGER report_participation_{trigger} ON participation_records')
    for function in (
        'report_participation_truncate()',
        'report_participation_flush()',
        'report_participation_person()',
        'report_participation_apply()',
        'report_participation_delta(uuid[], uuid[], uuid[], date[], text[], text[], int[])',
        'report_member_changes(uuid[], uuid[], date[], text[], int[])',
        'report_steps(date[])',
        'report_eff_year(int, int)',
        'report_days_minus(date[], date[])',
        'report_days_plus(date[], date[])',
    ):
        op.execute(f'DROP FUNCTION {function}')
    for table in TABLES:
        op.drop_table(table)
