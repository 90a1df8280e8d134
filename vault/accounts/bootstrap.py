"""The one-time bootstrap code that lets `tvault org init` register the org.

`tvault serve` calls `ensure_bootstrap_code` at every start. The first start makes a code,
prints it and writes it to ``DATA_DIR/bootstrap-code`` (mode 0600); the database keeps
only its hash. Later starts make no new code while an unused, unexpired one exists, and
none at all once the org exists. `redeem` uses the code up, inside the transaction that
registers the org.
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Final

from sqlmodel import Session, select

from vault.accounts.codes import code_hash, group, random_base32, same_hash, today
from vault.errors import ConfigError, Forbidden
from vault.models import BootstrapCode, Org

FILE_NAME: Final = "bootstrap-code"
#: Long enough to set a vault up over a weekend, short enough that a code found in an old
#: backup or terminal scrollback is dead.
LIFETIME: Final = timedelta(days=7)
_CODE_BYTES: Final = 20  # 160 bits


def ensure_bootstrap_code(session: Session, data_dir: Path) -> str | None:
    """Return a new bootstrap code if the vault needs one, else None.

    Needs one: no org yet, and no unused code that is still valid. The new code is written
    to ``data_dir/bootstrap-code`` (mode 0600) before its hash is added to `session`, so a
    code is never in the database without being somewhere the operator can read it.
    """
    if session.get(Org, 1) is not None:
        return None
    waiting = session.exec(
        select(BootstrapCode).where(
            BootstrapCode.used == False,  # noqa: E712 - SQL, not Python, comparison
            BootstrapCode.expires_on >= today(),
        )
    ).first()
    if waiting is not None:
        return None
    code = group(random_base32(_CODE_BYTES))
    _write_private(data_dir / FILE_NAME, code + "\n")
    session.add(BootstrapCode(code_hash=code_hash(code), expires_on=today() + LIFETIME))
    return code


def redeem(session: Session, code: str) -> None:
    """Use `code` up. Raises `Forbidden`, one message for wrong, used or expired codes."""
    wanted = code_hash(code)
    unused = select(BootstrapCode).where(BootstrapCode.used == False).with_for_update()  # noqa: E712
    for row in session.exec(unused):
        if same_hash(wanted, row.code_hash) and row.expires_on >= today():
            row.used = True
            session.add(row)
            return
    raise Forbidden("the bootstrap code is wrong, already used or expired")


def forget_file(data_dir: Path) -> None:
    """Remove the code file once the code is used: it unlocks nothing any more."""
    (data_dir / FILE_NAME).unlink(missing_ok=True)


def _write_private(path: Path, text: str) -> None:
    # Write then rename: the file is either the old one or whole, never half written,
    # and it is mode 0600 from its creation (mkstemp).
    try:
        fd, temporary = tempfile.mkstemp(prefix=".bootstrap-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="ascii") as sink:
            sink.write(text)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
