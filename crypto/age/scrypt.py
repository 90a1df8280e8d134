"""The scrypt recipient type: a passphrase (c2sp.org/age, "scrypt").

The stanza is ``-> scrypt <salt> <log2 N>``; the wrapping key is scrypt(passphrase,
label ‖ salt, N = 2^log2N, r = 8, p = 1). A scrypt stanza must be the only stanza of its
header (checked by the caller over the whole header). The work factor is parsed strictly
(``^[1-9][0-9]*$``) and bounded before any work is done, so a hostile file cannot make us
compute for hours or exhaust memory.

Passphrases are encoded as UTF-8 with ``surrogateescape``, so a passphrase obtained with
``os.fsdecode`` maps back to its original bytes.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from crypto.age.format import Stanza, b64encode, decode_arg
from crypto.age.primitives import WRAPPED_FILE_KEY_SIZE, unwrap_file_key, wrap_file_key
from crypto.errors import HeaderError, WorkFactorError

STANZA_TYPE = "scrypt"
LABEL = b"age-encryption.org/v1/scrypt"
SALT_SIZE = 16
DEFAULT_WORK_FACTOR = 18
DEFAULT_MAX_WORK_FACTOR = 22
_DIGITS = frozenset("0123456789")


def _derive(passphrase: str, salt: bytes, work_factor: int) -> bytes:
    secret = passphrase.encode("utf-8", "surrogateescape")
    kdf = Scrypt(salt=LABEL + salt, length=32, n=1 << work_factor, r=8, p=1)
    try:
        return kdf.derive(secret)
    except (MemoryError, ValueError):
        raise WorkFactorError("not enough memory for this scrypt work factor") from None


class ScryptRecipient:
    """A passphrase to encrypt to, with its work factor (log2 N)."""

    stanza_type = STANZA_TYPE

    def __init__(self, passphrase: str, work_factor: int = DEFAULT_WORK_FACTOR) -> None:
        if not 1 <= work_factor <= 30:
            raise ValueError("scrypt work factor must be between 1 and 30")
        self._passphrase = passphrase
        self._work_factor = work_factor

    def wrap(self, file_key: bytes) -> Stanza:
        salt = os.urandom(SALT_SIZE)
        key = _derive(self._passphrase, salt, self._work_factor)
        args = (b64encode(salt).decode("ascii"), str(self._work_factor))
        return Stanza(STANZA_TYPE, args, wrap_file_key(key, file_key))


class ScryptIdentity:
    """A passphrase to decrypt with, and the largest work factor we agree to compute."""

    def __init__(self, passphrase: str, max_work_factor: int = DEFAULT_MAX_WORK_FACTOR) -> None:
        self._passphrase = passphrase
        self._max_work_factor = max_work_factor

    def _work_factor(self, text: str) -> int:
        # The spec's ^[1-9][0-9]*$: ASCII digits only, no sign, no leading zero.
        if not text or text[0] == "0" or not _DIGITS.issuperset(text):
            raise HeaderError("invalid scrypt work factor encoding")
        # At most two digits are ever reasonable; this also keeps int() cheap.
        if len(text) > 2 or int(text) > self._max_work_factor:
            raise WorkFactorError("scrypt work factor too large")
        return int(text)

    def unwrap(self, stanza: Stanza) -> bytes | None:
        """The file key, or ``None`` for a wrong passphrase; HeaderError if malformed."""
        if stanza.type != STANZA_TYPE:
            return None
        if len(stanza.args) != 2:
            raise HeaderError("invalid scrypt stanza")
        salt = decode_arg(stanza.args[0])
        if len(salt) != SALT_SIZE:
            raise HeaderError("invalid scrypt stanza salt")
        work_factor = self._work_factor(stanza.args[1])
        # Check the body before the expensive derivation: fail fast on malformed input.
        if len(stanza.body) != WRAPPED_FILE_KEY_SIZE:
            raise HeaderError("stanza body is not a wrapped 16-byte file key")
        key = _derive(self._passphrase, salt, work_factor)
        return unwrap_file_key(key, stanza.body)
