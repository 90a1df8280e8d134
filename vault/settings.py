"""The server's settings: read once at start-up, then passed to whatever needs them.

Nothing here runs at import time. `load_settings` builds a `Settings` from keyword values
(the CLI's flags) over the environment (``TVAULT_*``) over the defaults, and turns every
validation failure into one `ConfigError` whose text an operator can act on.
`prepare_data_dir` makes the data directory exist with mode 0700 and refuses one that is
unsafe or unusable.

Only SQLite (the embedded default, a file under the data dir) and PostgreSQL through
psycopg 3 are supported: those are the two engines the test suite runs on.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Final

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from crypto.errors import CryptoError
from crypto.profile import PRODUCTION_NAME, KdfProfile, profile_named
from vault.errors import ConfigError

ENV_PREFIX: Final = "TVAULT_"
SQLITE_FILE_NAME: Final = "vault.sqlite3"
SQLITE_DRIVER: Final = "sqlite"
POSTGRESQL_DRIVER: Final = "postgresql+psycopg"

_URL_EXAMPLES = "sqlite:////path/to/vault.sqlite3 or postgresql://USER@HOST:5432/DBNAME"
_SQLITE_NAMES = frozenset({"sqlite", "sqlite+pysqlite"})
# `postgres://` is what several hosting platforms hand out; SQLAlchemy does not accept it.
_POSTGRESQL_NAMES = frozenset({"postgresql", "postgres", "postgresql+psycopg"})


class Settings(BaseSettings):
    """Everything the server is configured with. Build it with `load_settings`.

    `database_url` is a secret because a PostgreSQL URL may carry a password; use
    `engine_url()` to get the URL that `vault.db` connects to.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        frozen=True,
        # A rejected database URL must never be echoed back with its password.
        hide_input_in_errors=True,
    )

    data_dir: Path = Path("data")
    database_url: SecretStr | None = None
    dev: bool = False
    kdf_profile: str = PRODUCTION_NAME
    # Every request body is bounded (DESIGN.md section 6); uploads have their own bound.
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    #: The padded payload of one attachment, and of one report.
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    max_report_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    #: One `PUT .../payload` request; the only bodies exempt from `max_body_bytes`.
    max_chunk_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    max_attachments: int = Field(default=20, ge=0)
    #: A submission not completed within this many days is deleted with its chunks.
    staged_upload_days: int = Field(default=2, ge=1)
    #: Delete records this many days after submission; None keeps them.
    retention_days: int | None = Field(default=None, ge=1)
    #: Requests a second, on average and at once, that each anonymous route takes from
    #: everyone together (the proof of work is what slows each source down).
    anonymous_rate: float = Field(default=50.0, gt=0)
    anonymous_burst: int = Field(default=200, ge=1)
    #: Seconds a client has for a request's headers, and that a body may stall (api.timeouts).
    slow_client_seconds: float = Field(default=20.0, gt=0)

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        if not str(value).strip():
            raise ValueError("is empty")
        return Path(os.path.abspath(value.expanduser()))

    @field_validator("database_url")
    @classmethod
    def _supported_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        return SecretStr(normalise_database_url(value.get_secret_value()))

    @field_validator("kdf_profile")
    @classmethod
    def _allowed_kdf_profile(cls, value: str, info: ValidationInfo) -> str:
        try:
            profile_named(value, allow_test=bool(info.data.get("dev", False)))
        except CryptoError as exc:
            raise ValueError(str(exc)) from None
        return value

    @property
    def kdf(self) -> KdfProfile:
        """The KDF profile, already checked against `dev` at validation time."""
        return profile_named(self.kdf_profile, allow_test=self.dev)

    def engine_url(self) -> URL:
        """The URL to connect to: `database_url`, or the SQLite file in the data dir."""
        if self.database_url is None:
            return URL.create(SQLITE_DRIVER, database=str(self.data_dir / SQLITE_FILE_NAME))
        return make_url(self.database_url.get_secret_value())


def load_settings(**values: Any) -> Settings:
    """Build the settings from `values`, then ``TVAULT_*`` variables, then defaults.

    Raises `ConfigError` naming each bad setting and what to do about it. The message never
    contains a password from a database URL.
    """
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = [_describe(error["loc"], error["msg"]) for error in exc.errors()]
        if len(problems) == 1:
            raise ConfigError(problems[0]) from None
        raise ConfigError("\n  ".join(["", *problems])) from None


def _describe(loc: tuple[int | str, ...], msg: str) -> str:
    name = str(loc[0]) if loc else "settings"
    msg = msg.removeprefix("Value error, ")
    return f"{name} (env {ENV_PREFIX}{name.upper()}): {msg}"


def normalise_database_url(raw: str) -> str:
    """Return `raw` as the URL `vault.db` uses, or raise `ValueError` saying why not.

    ``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://``; a SQLite path
    becomes absolute. Other engines and drivers, in-memory SQLite and SQLite options are
    refused. Messages show the URL with its password hidden.
    """
    raw = raw.strip()
    if not raw:
        raise ValueError(f"is empty; expected {_URL_EXAMPLES}")
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ValueError(f"is not a database URL; expected {_URL_EXAMPLES}") from None
    shown = url.render_as_string(hide_password=True)
    if url.drivername in _SQLITE_NAMES:
        return _normalise_sqlite(url, shown)
    if url.drivername in _POSTGRESQL_NAMES:
        return url.set(drivername=POSTGRESQL_DRIVER).render_as_string(hide_password=False)
    if url.get_backend_name() == "postgresql":
        raise ValueError(
            f"{shown}: the {url.get_driver_name()} driver is not supported; "
            "write postgresql://... and the vault uses psycopg 3"
        )
    raise ValueError(
        f"{shown}: the {url.get_backend_name()} database is not supported; "
        f"the vault runs on SQLite or PostgreSQL ({_URL_EXAMPLES})"
    )


def _normalise_sqlite(url: URL, shown: str) -> str:
    if not url.database or url.database == ":memory:" or url.query.get("mode") == "memory":
        raise ValueError(
            f"{shown}: an in-memory SQLite database would lose every record on restart; "
            "give a file path, e.g. sqlite:////var/lib/tvault/vault.sqlite3"
        )
    if url.query or url.host or url.username:
        raise ValueError(
            f"{shown}: a SQLite URL takes only a file path (sqlite:////path/to/file); "
            "the vault sets the connection options itself"
        )
    path = os.path.abspath(Path(url.database).expanduser())
    return URL.create(SQLITE_DRIVER, database=path).render_as_string(hide_password=False)


def prepare_data_dir(settings: Settings) -> Path:
    """Make sure the data directory exists, is private (mode 0700) and is writable.

    A missing directory is created with mode 0700. An existing one must be a directory,
    owned by the user running the vault, with no access for group or others, and writable.
    Raises `ConfigError` with the fix otherwise; a directory that was ever readable by
    others is refused rather than silently tightened, because its files may have leaked.
    Returns the directory.
    """
    path = settings.data_dir
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot create the data dir {path}: {exc.strerror}") from None
    else:
        path.chmod(0o700)  # mkdir's mode is filtered through the umask
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(f"cannot read the data dir {path}: {exc.strerror}") from None
    _check_data_dir(path, info)
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=path)
    except OSError as exc:
        raise ConfigError(f"the data dir {path} is not writable: {exc.strerror}") from None
    os.close(fd)
    os.unlink(probe)
    return path


def _check_data_dir(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(
            f"the data dir {path} exists but is not a directory; "
            "choose another path with --data-dir or TVAULT_DATA_DIR"
        )
    if info.st_uid != os.geteuid():
        raise ConfigError(
            f"the data dir {path} belongs to uid {info.st_uid}, "
            f"not to the user running the vault (uid {os.geteuid()})"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"the data dir {path} has mode {mode:04o}, so other users can reach the "
            f"database and keys; check nothing leaked, then run: chmod 700 {path}"
        )
