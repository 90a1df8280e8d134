"""Parsing recipient and identity strings into the recipient types, and the rules on mixing.

The one place that knows every type: ``age1pq1…`` and ``AGE-SECRET-KEY-PQ-1…`` are
:mod:`~crypto.age.mlkem768x25519`, ``age1…`` and ``AGE-SECRET-KEY-1…`` are
:mod:`~crypto.age.x25519`, and passphrases are :mod:`~crypto.age.scrypt`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Protocol, TypeVar

from crypto.age import mlkem768x25519, scrypt, x25519
from crypto.age.format import Stanza
from crypto.age.mlkem768x25519 import MLKEM768X25519Identity, MLKEM768X25519Recipient
from crypto.age.scrypt import ScryptIdentity, ScryptRecipient
from crypto.age.x25519 import X25519Identity, X25519Recipient
from crypto.errors import HeaderError, KeyFormatError, RecipientError

T = TypeVar("T")
AnyRecipient = X25519Recipient | MLKEM768X25519Recipient
AnyIdentity = X25519Identity | MLKEM768X25519Identity


class Recipient(Protocol):
    """Something that wraps a file key into one stanza."""

    @property
    def stanza_type(self) -> str: ...

    def wrap(self, file_key: bytes) -> Stanza: ...


class Identity(Protocol):
    """Something that unwraps a stanza: the file key, ``None`` if not ours, or HeaderError."""

    def unwrap(self, stanza: Stanza) -> bytes | None: ...


_RECIPIENT_PARSERS: tuple[tuple[str, Callable[[str], AnyRecipient]], ...] = (
    (mlkem768x25519.RECIPIENT_HRP + "1", MLKEM768X25519Recipient.parse),
    (x25519.RECIPIENT_HRP + "1", X25519Recipient.parse),
)
_IDENTITY_PARSERS: tuple[tuple[str, Callable[[str], AnyIdentity]], ...] = (
    (mlkem768x25519.IDENTITY_HRP + "1", MLKEM768X25519Identity.parse),
    (x25519.IDENTITY_HRP + "1", X25519Identity.parse),
)


def _parse_key(text: object, parsers: tuple[tuple[str, Callable[[str], T]], ...]) -> T:
    # Longest prefix first: "age1pq1" must win over "age1".
    if isinstance(text, str):
        for prefix, parse in parsers:
            if text.startswith(prefix):
                return parse(text)
    raise KeyFormatError("not a supported age key string")


def parse_recipient(text: str) -> AnyRecipient:
    """Parse a recipient string (``age1pq1…`` or ``age1…``); raises KeyFormatError."""
    return _parse_key(text, _RECIPIENT_PARSERS)


def parse_identity(text: str) -> AnyIdentity:
    """Parse an identity string; raises KeyFormatError."""
    return _parse_key(text, _IDENTITY_PARSERS)


def check_recipients(recipients: Sequence[Recipient]) -> None:
    """Refuse an empty set or mixed types (DESIGN.md section 3: never mix types).

    One classical stanza next to a post-quantum one would expose the file key to a
    future quantum adversary; scrypt must be alone by the spec.
    """
    if not recipients:
        raise RecipientError("no recipients given")
    kinds = {r.stanza_type for r in recipients}
    if len(kinds) > 1:
        raise RecipientError("recipient types must not be mixed in one file")
    if scrypt.STANZA_TYPE in kinds and len(recipients) > 1:
        raise RecipientError("a passphrase must be the only recipient")


def check_stanzas(stanzas: Sequence[Stanza]) -> None:
    """Header-wide rules that no single identity can check: scrypt must be alone."""
    if len(stanzas) > 1 and any(s.type == scrypt.STANZA_TYPE for s in stanzas):
        raise HeaderError("an scrypt stanza must be the only stanza")


def to_recipients(
    recipients: Sequence[str], passphrase: str | None, work_factor: int | None
) -> list[Recipient]:
    """Parse and check what ``encrypt`` was given."""
    if isinstance(recipients, str):
        raise RecipientError("recipients must be a sequence of strings, not one string")
    parsed: list[Recipient] = [parse_recipient(r) for r in recipients]
    if passphrase is None and work_factor is not None:
        raise RecipientError("a scrypt work factor needs a passphrase")
    if passphrase is not None:
        factor = scrypt.DEFAULT_WORK_FACTOR if work_factor is None else work_factor
        try:
            parsed.append(ScryptRecipient(passphrase, factor))
        except ValueError:
            raise RecipientError("scrypt work factor out of range") from None
    check_recipients(parsed)
    return parsed


def to_identities(
    identities: Sequence[str], passphrase: str | None, max_work_factor: int
) -> list[Identity]:
    """Parse what ``decrypt`` was given; may be empty (see :func:`require_identities`)."""
    if isinstance(identities, str):
        raise RecipientError("identities must be a sequence of strings, not one string")
    parsed: list[Identity] = [parse_identity(i) for i in identities]
    if passphrase is not None:
        parsed.append(ScryptIdentity(passphrase, max_work_factor))
    return parsed


def require_identities(identities: Sequence[Identity]) -> None:
    """Refuse to open a header with nothing to open it with.

    Checked after the header parsed, so a malformed file is reported as such first.
    """
    if not identities:
        raise RecipientError("no identities or passphrase given")


def generate_identity(kind: Literal["pq", "x25519"] = "pq") -> str:
    """A new identity string: ``AGE-SECRET-KEY-PQ-1…`` (default) or ``AGE-SECRET-KEY-1…``."""
    if kind == "pq":
        return str(MLKEM768X25519Identity.generate())
    if kind == "x25519":
        return str(X25519Identity.generate())
    raise RecipientError("identity kind must be 'pq' or 'x25519'")


def recipient_of(identity: str) -> str:
    """The recipient string (``age1pq1…`` / ``age1…``) of an identity string."""
    return str(parse_identity(identity).recipient())
