# syntax=docker/dockerfile:1
# Build stage: a wheel of the project and its dependencies.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Runtime stage: no compilers, a non-root user, migrations beside the code.
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BERDAYA_ENV=production \
    BERDAYA_HOST=0.0.0.0 \
    BERDAYA_DATA_DIR=/var/lib/berdaya
RUN groupadd --system berdaya && useradd --system --gid berdaya --home /app berdaya \
    && mkdir -p /var/lib/berdaya && chown berdaya:berdaya /var/lib/berdaya
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
# The migrations directory is read next to the installed package (app/../migrations).
COPY --chown=berdaya:berdaya migrations /usr/local/lib/python3.11/site-packages/migrations
COPY --chown=berdaya:berdaya alembic.ini ./
USER berdaya
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
# Production needs DATABASE_URL and the secrets (BERDAYA_JWT_PRIVATE_KEY, BERDAYA_PII_KEYS,
# BERDAYA_PII_HMAC_KEY, BERDAYA_PSEUDONYM_KEY); `berdaya serve` migrates, then serves.
CMD ["berdaya", "serve", "--workers", "2"]
