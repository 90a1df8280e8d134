"""The client's state under `--home` (mode 0700): the pinned org, session, keys.

- ``state.json``: server URL, pinned org (fingerprint, public key, the earlier keys it
  followed rotations from, policy), username, and the newest roster version seen (to
  refuse a rollback);
- ``session``: the session token;
- ``identity.age``: this account's identity file, sealed to the passphrase;
- ``org-key.age``: the org signing key (an admin's machine only), sealed likewise, and
  after a rotation the replaced ones, ``org-key.<serial>.old.age``;
- ``enrolments.json``: the secret halves of enrolment codes this admin issued, which
  `roster publish` needs to check the enrolment MACs.

Every file is written whole (temporary file, then rename) with mode 0600.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from client.errors import ClientError
from client.paths import default_home

IDENTITY_FILE = "identity.age"
ORG_KEY_FILE = "org-key.age"
_STATE = "state.json"
_SESSION = "session"
_ENROLMENTS = "enrolments.json"


class Home:
    def __init__(self, path: Path | None) -> None:
        self.path = (path or default_home()).expanduser()

    def ensure(self) -> Path:
        """Create the home (mode 0700) or refuse one others can reach."""
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = self.path.stat()
        except OSError as exc:
            raise ClientError(f"cannot create {self.path}: {exc.strerror}") from None
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise ClientError(
                f"{self.path} is reachable by other users (mode "
                f"{stat.S_IMODE(info.st_mode):04o}); run: chmod 700 {self.path}"
            )
        return self.path

    def write(self, name: str, data: bytes) -> Path:
        home = self.ensure()
        fd, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=home)
        with os.fdopen(fd, "wb") as sink:
            sink.write(data)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temporary, home / name)
        return home / name

    def read(self, name: str) -> bytes | None:
        try:
            return (self.path / name).read_bytes()
        except FileNotFoundError:
            return None

    def state(self) -> dict[str, Any]:
        raw = self.read(_STATE)
        return {} if raw is None else dict(json.loads(raw))

    def save_state(self, **values: Any) -> None:
        state = self.state()
        state.update(values)
        self.write(_STATE, json.dumps(state, indent=2, sort_keys=True).encode())

    def session_token(self) -> str | None:
        raw = self.read(_SESSION)
        return None if raw is None else raw.decode("ascii").strip()

    def save_session(self, token: str) -> None:
        self.write(_SESSION, token.encode("ascii"))

    def forget_session(self) -> None:
        (self.path / _SESSION).unlink(missing_ok=True)

    def enrolment_secrets(self) -> dict[str, dict[str, str]]:
        raw = self.read(_ENROLMENTS)
        return {} if raw is None else dict(json.loads(raw))

    def remember_enrolment(self, code_id: str, *, username: str, secret_half: str) -> None:
        secrets = self.enrolment_secrets()
        secrets[code_id] = {"username": username, "secret_half": secret_half}
        self.write(_ENROLMENTS, json.dumps(secrets, indent=2, sort_keys=True).encode())
