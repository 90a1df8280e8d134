"""`tvault org rotate-key`: a new org key, announced by the old one.

The new key is made here, on the admin's machine, and sealed in `--home` before the server
hears of it (as `org init` does), so a registered key never lacks its file. The statement
(`crypto.rotation`) is signed by the old key and by the new one. Once the server has
registered it, the old key file is kept beside the new one as `org-key.<serial>.old.age`
(until every client has followed the rotation; then destroy it), this home re-pins, and
the caller publishes the next roster, which the new key signs.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from client.errors import ClientError
from client.home import ORG_KEY_FILE, Home
from client.http import Server
from client.org import load_identity, pinned_key, save_identity
from crypto import identity, note, roster, rotation
from crypto.profile import KdfProfile
from crypto.roster import ORG_KEY_NAME

_NEXT_KEY_FILE = "org-key.next.age"


@dataclass(frozen=True)
class Rotated:
    serial: int
    old_fingerprint: str
    fingerprint: str
    old_key_file: str


def rotate(server: Server, home: Home, *, passphrase: str, profile: KdfProfile) -> Rotated:
    """Make the new org key, register the statement, keep both key files, re-pin.

    The new key file is sealed to the same passphrase as the old. Raises `ClientError` if
    this home holds no org key, if it is not the org key the server presents, or if the
    server refuses; the new key file is then removed, and nothing has changed.
    """
    old = load_identity(home, ORG_KEY_FILE, passphrase=passphrase)
    old_key = old.verify_key_bytes
    served = server.call("GET", "/org", auth=True)
    if base64.b64decode(served["public_key"]) != old_key or pinned_key(home) != old_key:
        raise ClientError(
            "the org key in this home is not the org's current key; rotate from the home "
            "that holds the current one"
        )
    serial = len(server.call("GET", "/org/rotations")["statements"]) + 1
    new = identity.generate("none")
    (home.path / _NEXT_KEY_FILE).unlink(missing_ok=True)  # a rotation that failed before
    save_identity(home, _NEXT_KEY_FILE, new, passphrase=passphrase, profile=profile)
    statement = rotation.sign_rotation(
        serial=serial,
        old=note.Signer(ORG_KEY_NAME, old.signing_key),
        new=note.Signer(ORG_KEY_NAME, new.signing_key),
        issued=datetime.now(UTC).date(),
    )
    try:
        done = server.call(
            "POST", "/admin/org/rotations", {"statement": statement.decode()}, auth=True
        )
    except ClientError:
        (home.path / _NEXT_KEY_FILE).unlink(missing_ok=True)
        raise
    kept = home.path / f"org-key.{done['serial']}.old.age"
    os.replace(home.path / ORG_KEY_FILE, kept)
    os.replace(home.path / _NEXT_KEY_FILE, home.path / ORG_KEY_FILE)
    new_key = new.verify_key_bytes
    state = home.state()
    org = dict(state.get("org") or {})
    earlier = [*org.get("earlier", []), base64.b64encode(old_key).decode("ascii")]
    home.save_state(
        org={
            "fingerprint": roster.fingerprint(new_key),
            "public_key": base64.b64encode(new_key).decode("ascii"),
            "earlier": list(dict.fromkeys(earlier)),
        }
    )
    return Rotated(
        int(done["serial"]), roster.fingerprint(old_key), roster.fingerprint(new_key), str(kept)
    )
