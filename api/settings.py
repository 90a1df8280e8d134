"""Server settings, built once by the caller and injected into `create_app`.

Nothing here reads the environment at import time. `Settings()` reads `TVAULT_*`
variables when the caller constructs it; tests construct it with explicit values.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Enough for any JSON request and for one upload chunk; larger uploads arrive in chunks.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class Settings(BaseSettings):
    """What one server process is configured with.

    `data_dir` holds the embedded SQLite database and the server's files.
    `max_body_bytes` bounds every request body, declared or chunked.
    `dev` permits development-only behaviour (e.g. the weak test KDF profile).
    """

    model_config = SettingsConfigDict(env_prefix="TVAULT_", frozen=True, extra="forbid")

    data_dir: Path
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, gt=0)
    dev: bool = False
