"""Private key files in the data dir: made once, atomically, and read only when private.

The server keeps two secrets in files rather than in the database, so that a leaked
database alone is not enough: the log key (`vault.logkey`) and the key that seals TOTP
secrets (`vault.accounts.sealkey`). Both follow the same rules, kept here:

- A new key is written to a temporary file (mode 0600, fsynced) and hard-linked into
  place, so workers starting at once all end up with the one key that won, and no worker
  ever reads a half-written file.
- A key is read only from a regular file (not through a symlink) owned by the user running
  the vault with no permission for anyone else. A looser file is refused, not tightened:
  a key others could read may have leaked, and the operator must decide what that means.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

from vault.errors import ConfigError

# A key file is a line or a few dozen bytes; refuse to read anything much larger.
_MAX_KEY_FILE = 4096


def load_or_create(path: Path, *, make: Callable[[], bytes], what: str) -> bytes:
    """Return the contents of the key file `path`, creating it from `make()` if absent.

    `what` names the key in messages ("the log key"). Raises `ConfigError` if the file
    cannot be created or read, or is not a private regular file of this user.
    """
    try:
        return read_private(path, what=what)
    except FileNotFoundError:
        pass
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(make())
            file.flush()
            os.fsync(file.fileno())
        # If another worker made the key first, keep theirs.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    except OSError as exc:
        raise ConfigError(f"cannot create {what} {path}: {exc.strerror}") from None
    finally:
        temporary.unlink(missing_ok=True)
    return read_private(path, what=what)


def read_private(path: Path, *, what: str) -> bytes:
    """Read a key file; raises FileNotFoundError if absent, ConfigError if unsafe."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"cannot open {what} {path}: {exc.strerror}") from None
    try:
        # Checked on the open descriptor, before reading: no swap between check and read.
        check_private(path, os.fstat(fd), what=what)
        return os.read(fd, _MAX_KEY_FILE + 1)
    finally:
        os.close(fd)


def check_private(path: Path, info: os.stat_result, *, what: str) -> None:
    """Raise `ConfigError` unless `info` is a regular file of this user, mode 0600 or less."""
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{what} {path} is not a regular file")
    if info.st_uid != os.geteuid():
        raise ConfigError(
            f"{what} {path} belongs to uid {info.st_uid}, "
            f"not to the user running the vault (uid {os.geteuid()})"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"{what} {path} has mode {mode:04o}, so other users may have read it; "
            f"if it may have leaked, treat the key as compromised; else run: chmod 600 {path}"
        )
