"""The key that seals TOTP secrets at rest, kept in the data dir and never in the database.

A leaked database alone then yields no TOTP secret (DESIGN.md section 2). Deployments
with several hosts sharing one PostgreSQL database copy this file to each host, as they
do the log key.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

from vault.errors import ConfigError

FILE_NAME: Final = "totp-seal.key"
KEY_BYTES: Final = 32


def load_or_create(data_dir: Path) -> bytes:
    """Return the sealing key, creating it (mode 0600) on first use.

    Raises `ConfigError` if the file exists but is not a private 32-byte key.
    """
    path = data_dir / FILE_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    except OSError as exc:
        raise ConfigError(f"cannot create {path}: {exc.strerror}") from None
    key = os.urandom(KEY_BYTES)
    with os.fdopen(fd, "wb") as sink:
        sink.write(key)
        sink.flush()
        os.fsync(sink.fileno())
    return key


def _read(path: Path) -> bytes:
    try:
        info = path.stat()
        key = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise ConfigError(f"{path} is readable by other users; run: chmod 600 {path}")
    if len(key) != KEY_BYTES:
        raise ConfigError(f"{path} is not a {KEY_BYTES}-byte key; restore it from backup")
    return key
