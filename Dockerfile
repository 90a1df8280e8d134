# Testimony Vault server image. Build: docker build -t tvault .
# Run:   docker run -p 8000:8000 -v tvault-data:/data tvault
# The image holds only ciphertext-handling server code. The data volume holds the embedded
# SQLite database and the server's two keys, log-key and totp-seal.key; with
# TVAULT_DATABASE_URL set (PostgreSQL) it still holds the keys, the same copies on every
# host that shares the database (docs/deploy.md).

# The source page (web/), built from its npm lock with the same build `make setup` runs.
FROM node:20-bookworm-slim AS page
WORKDIR /app/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web ./
RUN node build.mjs

FROM python:3.11-slim-bookworm AS builder
WORKDIR /app
# uv itself, hash-pinned, the same way the quick start gets it.
COPY requirements-tools.txt ./
RUN python -m pip install --no-cache-dir --disable-pip-version-check --root-user-action=ignore \
        --no-deps --require-hashes -r requirements-tools.txt
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system
# Dependencies first (from the hash-pinned lock, no dev tools), so code changes reuse them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY crypto ./crypto
COPY vault ./vault
COPY api ./api
COPY client ./client
COPY migrations ./migrations
# Editable, so the code stays at /app beside web/dist, where api.page finds the page.
RUN uv sync --locked --no-dev

FROM python:3.11-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 tvault \
    && useradd --system --uid 10001 --gid tvault --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin tvault \
    && mkdir /data && chown tvault:tvault /data && chmod 0700 /data
COPY --from=builder /app /app
COPY --from=page /app/web/dist /app/web/dist
ENV PATH=/app/.venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER tvault:tvault
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://localhost:8000/v1/health', timeout=4)"]
# SIGTERM (docker stop) drains requests and shuts down gracefully.
ENTRYPOINT ["tvault", "serve", "--data-dir", "/data", "--host", "0.0.0.0"]
