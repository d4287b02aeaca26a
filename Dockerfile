# syntax=docker/dockerfile:1
# Build stage: a virtualenv with exactly the locked, hash-checked dependencies and the project.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
WORKDIR /src
RUN python -m venv /opt/venv
# requirements.lock is written by `make lock`; every line is pinned and carries its hashes.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY app ./app
# --no-deps: every dependency came from the lock; --no-build-isolation: the build backend
# (setuptools, wheel) did too, instead of whatever is newest on the day of the build.
RUN pip install --no-cache-dir --no-deps --no-build-isolation .

# Runtime stage: no compilers, a non-root user, migrations beside the code.
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    BERDAYA_ENV=production \
    BERDAYA_HOST=0.0.0.0 \
    BERDAYA_DATA_DIR=/var/lib/berdaya
# A fixed numeric id, so orchestrators can verify "non-root" without reading /etc/passwd.
RUN groupadd --system --gid 10001 berdaya \
    && useradd --system --uid 10001 --gid berdaya --home /app berdaya \
    && mkdir -p /var/lib/berdaya && chown berdaya:berdaya /var/lib/berdaya
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
# The migrations directory is read next to the installed package (app/../migrations).
COPY --chown=berdaya:berdaya migrations /opt/venv/lib/python3.11/site-packages/migrations
COPY --chown=berdaya:berdaya alembic.ini ./
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"]
# Production needs DATABASE_URL and the secrets (BERDAYA_JWT_PRIVATE_KEY, BERDAYA_PII_KEYS,
# BERDAYA_PII_HMAC_KEY, BERDAYA_PSEUDONYM_KEY); `berdaya serve` migrates, then serves.
CMD ["berdaya", "serve", "--workers", "2"]
