"""TOTP (RFC 6238, via pyotp): codes single use, secrets sealed at rest.

The secret and the last accepted time step are sealed together with ChaCha20-Poly1305
under the data dir's sealing key (`sealkey`), bound to the account's opaque id, so a
sealed value cannot be moved to another account. Storing the step inside the seal keeps a
login time to 30 seconds out of the database (see `vault.models.Account`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import time
from dataclasses import dataclass
from typing import Final

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from vault.errors import ConfigError, Invalid

STEP_SECONDS: Final = 30
#: One step either side, for clocks that drift and codes typed slowly (RFC 6238 5.2).
WINDOW: Final = 1
#: The step stored when a secret is set. The code that confirms a new secret proves the
#: authenticator holds it; it is not a login, so it does not use its step up, and a
#: script may log in straight after enrolling. Observing it gains nothing without the
#: password, which travelled in the same request.
NO_LOGIN_YET: Final = -1
_AAD: Final = b"tvault totp v1 "
_NONCE: Final = 12


@dataclass(frozen=True)
class TotpState:
    secret: str
    last_step: int


def check_secret(secret: str) -> None:
    """Raise `Invalid` unless `secret` is base32 of at least 160 bits (RFC 4226 4, R6)."""
    try:
        raw = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    except (binascii.Error, ValueError):
        raise Invalid("the TOTP secret is not base32") from None
    if len(raw) < 20:
        raise Invalid("the TOTP secret must carry at least 160 bits")


def accept(secret: str, code: str, *, after_step: int, now: float | None = None) -> int | None:
    """Return the time step `code` is valid for, if later than `after_step`, else None."""
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if step > after_step and hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def seal(key: bytes, state: TotpState, *, opaque_id: str) -> bytes:
    nonce = os.urandom(_NONCE)
    plaintext = json.dumps({"secret": state.secret, "last_step": state.last_step}).encode()
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, plaintext, _AAD + opaque_id.encode())


def unseal(key: bytes, sealed: bytes, *, opaque_id: str) -> TotpState:
    """Raises `ConfigError` if the seal does not open: the wrong sealing key file."""
    try:
        plaintext = ChaCha20Poly1305(key).decrypt(
            sealed[:_NONCE], sealed[_NONCE:], _AAD + opaque_id.encode()
        )
    except InvalidTag:
        raise ConfigError("a TOTP secret does not open with this data dir's sealing key") from None
    value = json.loads(plaintext)
    return TotpState(secret=str(value["secret"]), last_step=int(value["last_step"]))
