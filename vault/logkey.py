"""The server's log key: the Ed25519 key that signs the audit log's checkpoints.

The private key lives in one file in the data dir, `LOG_KEY_FILE_NAME`, mode 0600, never in
the database: a leaked database must not let anyone sign checkpoints. The file holds one
line, the signer key in the Go note format (``PRIVATE+KEY+<name>+<key id>+<base64>``), so
the key name travels with the key.

The key name is the log's origin (C2SP tlog-checkpoint), ``testimony-vault/<16 hex>``:
the hex is random, chosen once when the key is made, so two vaults never share an origin
and a checkpoint of one is never mistaken for the other's. It names no organisation,
because checkpoints are public and the origin must not say who runs the vault.

The public half is registered in `server_key` (purpose LOG) so that every worker and the
roster agree on it. A vault whose database already knows another active log key refuses to
start: checkpoints signed by that key would stop verifying, which auditors must see as a
deliberate rotation, not as a replaced file.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from crypto.errors import KeyFormatError
from crypto.note import Signer, parse_signer_key
from vault import keyfile
from vault.audit.events import utc_today
from vault.db import lock_log, session_scope
from vault.errors import ConfigError
from vault.models import KeyPurpose, ServerKey
from vault.settings import Settings

LOG_KEY_FILE_NAME: Final = "log-key"
ORIGIN_PREFIX: Final = "testimony-vault/"


def load_log_signer(settings: Settings, engine: Engine) -> Signer:
    """Load (or make, on first start) the log key and register it; what `tvault serve` calls.

    Precondition: `prepare_data_dir(settings)` ran and the database is migrated.
    Raises `ConfigError` if the key file is unsafe or unreadable, or if the database
    registers another log key.
    """
    signer = load_or_create_key(settings.data_dir / LOG_KEY_FILE_NAME)
    with session_scope(engine) as session:
        register_log_key(session, signer)
    return signer


def load_or_create_key(path: Path) -> Signer:
    """Return the log key in `path`, creating it (mode 0600) if there is no file yet.

    Safe when several workers start at once (see `vault.keyfile`). Raises `ConfigError`
    if the file is not a regular file owned by this user with mode 0600 or stricter, or
    does not hold a signer key.
    """

    def make() -> bytes:
        return (Signer.generate(ORIGIN_PREFIX + secrets.token_hex(8)).skey + "\n").encode()

    data = keyfile.load_or_create(path, make=make, what="the log key")
    try:
        return parse_signer_key(data.decode("ascii").strip())
    except (KeyFormatError, UnicodeDecodeError):
        raise ConfigError(
            f"the log key {path} does not hold a signer key; restore it from a backup"
        ) from None


def register_log_key(session: Session, signer: Signer) -> None:
    """Record the public half of `signer` in `server_key`; doing it again changes nothing.

    Precondition: a write session; runs under the log lock so concurrent starts agree.
    Raises `ConfigError` if another active log key is registered, or if this key is
    registered under another name or purpose.
    """
    lock_log(session)
    public_key = signer.verifier.public_key
    active = session.exec(
        select(ServerKey).where(
            ServerKey.purpose == KeyPurpose.LOG, col(ServerKey.retired_on).is_(None)
        )
    ).all()
    for key in active:
        if key.public_key != public_key:
            raise ConfigError(
                "the database registers a different log key than the log key file; "
                "restore the key file that matches the database (a new key would make "
                "every earlier checkpoint unverifiable)"
            )
    existing = session.exec(select(ServerKey).where(ServerKey.public_key == public_key)).first()
    if existing is not None:
        if existing.purpose != KeyPurpose.LOG or existing.name != signer.name:
            raise ConfigError("the log key is registered under another name or purpose")
        if existing.retired_on is not None:
            raise ConfigError("the log key file holds a retired log key")
        return
    session.add(
        ServerKey(
            purpose=KeyPurpose.LOG,
            name=signer.name,
            public_key=public_key,
            created_on=utc_today(),
        )
    )
    session.flush()


def registered_log_keys(session: Session) -> list[ServerKey]:
    """Return every log key the database registers, oldest first."""
    query = select(ServerKey).where(ServerKey.purpose == KeyPurpose.LOG).order_by(sa.text("id"))
    return list(session.exec(query).all())
