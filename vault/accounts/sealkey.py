"""The key that seals TOTP secrets at rest, kept in the data dir and never in the database.

A leaked database alone then yields no TOTP secret (DESIGN.md section 2). Deployments
with several hosts sharing one PostgreSQL database copy this file to each host, as they
do the log key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from vault import keyfile
from vault.errors import ConfigError

FILE_NAME: Final = "totp-seal.key"
KEY_BYTES: Final = 32


def load_or_create(data_dir: Path) -> bytes:
    """Return the sealing key, creating it (mode 0600) on first use.

    Safe when several workers start at once (see `vault.keyfile`). Raises `ConfigError`
    if the file exists but is not a private 32-byte key of this user.
    """
    path = data_dir / FILE_NAME
    what = "the TOTP sealing key"
    key = keyfile.load_or_create(path, make=lambda: os.urandom(KEY_BYTES), what=what)
    if len(key) != KEY_BYTES:
        raise ConfigError(f"{what} {path} is not a {KEY_BYTES}-byte key; restore it from backup")
    return key
