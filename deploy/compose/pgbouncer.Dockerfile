# PgBouncer as Debian bookworm ships it (1.18), the version Berdaya is tested against.
FROM debian:bookworm-slim
# A fixed numeric id for the user the package runs PgBouncer as (created before the
# package would pick one), so the runtime can check "non-root" by number.
RUN groupadd --system --gid 10002 postgres \
    && useradd --system --uid 10002 --gid postgres --home /var/lib/postgresql postgres \
    && apt-get update \
    && apt-get install -y --no-install-recommends pgbouncer=1.18.* postgresql-client-15=15.* \
    && rm -rf /var/lib/apt/lists/*
USER 10002:10002
EXPOSE 6432
CMD ["pgbouncer", "/etc/pgbouncer/pgbouncer.ini"]
