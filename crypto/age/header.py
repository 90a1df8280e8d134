"""Making and opening age headers: file key ↔ stanzas, and the header MAC.

These are what DESIGN.md section 3 builds on: one payload, one complete header per
recipient, and re-wrapping a file key for a new recipient without touching the payload.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from crypto.age.format import Header, parse_bytes
from crypto.age.primitives import FILE_KEY_SIZE, header_mac
from crypto.age.recipients import (
    Identity,
    Recipient,
    check_recipients,
    check_stanzas,
    parse_recipient,
    require_identities,
    to_identities,
)
from crypto.age.scrypt import DEFAULT_MAX_WORK_FACTOR
from crypto.errors import HMACError, KeyFormatError, NoIdentityMatchError, RecipientError


def header_for(file_key: bytes, recipients: Sequence[Recipient]) -> bytes:
    """A complete header wrapping ``file_key`` to parsed, checked ``recipients``."""
    if len(file_key) != FILE_KEY_SIZE:
        raise KeyFormatError("a file key is 16 bytes")
    check_recipients(recipients)
    stanzas = tuple(r.wrap(file_key) for r in recipients)
    unsigned = Header(stanzas, b"")
    return Header(stanzas, header_mac(file_key, unsigned.marshal_without_mac())).marshal()


def make_header(file_key: bytes, recipients: Sequence[str]) -> bytes:
    """A complete header (``--- <mac>\\n`` included) wrapping ``file_key`` to ``recipients``.

    All recipients must be of one type. Raises KeyFormatError or RecipientError.
    """
    if isinstance(recipients, str):
        raise RecipientError("recipients must be a sequence of strings, not one string")
    return header_for(file_key, [parse_recipient(r) for r in recipients])


def open_header(header: Header, identities: Sequence[Identity]) -> bytes:
    """Find the file key with the first identity that opens a stanza, then check the MAC.

    Raises NoIdentityMatchError, HeaderError or HMACError.
    """
    check_stanzas(header.stanzas)
    require_identities(identities)
    file_key = _find_file_key(header, identities)
    expected = header_mac(file_key, header.marshal_without_mac())
    if not hmac.compare_digest(expected, header.mac):
        raise HMACError("header MAC mismatch")
    return file_key


def _find_file_key(header: Header, identities: Sequence[Identity]) -> bytes:
    for identity in identities:
        for stanza in header.stanzas:
            file_key = identity.unwrap(stanza)
            if file_key is not None:
                return file_key
    raise NoIdentityMatchError("no identity opened any stanza")


def unwrap_file_key(
    header: bytes,
    identities: Sequence[str],
    *,
    passphrase: str | None = None,
    max_work_factor: int = DEFAULT_MAX_WORK_FACTOR,
) -> bytes:
    """The file key of a complete header held in memory, MAC verified.

    Raises NoIdentityMatchError, HeaderError (HMACError for a bad MAC), KeyFormatError
    for a malformed identity string, or RecipientError when nothing to open with is given.
    """
    parsed = parse_bytes(header)
    return open_header(parsed, to_identities(identities, passphrase, max_work_factor))


def rewrap(header: bytes, identities: Sequence[str], recipients: Sequence[str]) -> bytes:
    """A new header for ``recipients`` carrying the same file key as ``header``.

    This is how access is granted: the payload is untouched, and the new header opens it.
    """
    return make_header(unwrap_file_key(header, identities), recipients)
