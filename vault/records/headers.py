"""What the server can check of an age file it cannot open: its header's stanza types.

DESIGN.md section 2: every header of every record uses the org's one recipient type,
because one classical stanza would expose the file key to a future quantum adversary.
The server cannot unwrap a stanza, but it can read each stanza's type and refuse any other
(docs/submissions.md: "exactly one stanza of the org's type").
"""

from __future__ import annotations

import io
from typing import Final

from crypto.age import mlkem768x25519, x25519
from crypto.age.files import split_header
from crypto.age.format import Header, parse_bytes
from crypto.errors import CryptoError
from vault.errors import Invalid

#: The stanza type of each org recipient type (`crypto.roster.RECIPIENT_TYPES`).
STANZA_TYPES: Final = {"pq": mlkem768x25519.STANZA_TYPE, "x25519": x25519.STANZA_TYPE}


def check_header(header: bytes, *, recipient_type: str) -> None:
    """Refuse `header` unless it is one complete age header (MAC line included, nothing
    after it) with exactly one stanza, of the type of `recipient_type`.

    Raises `Invalid` saying which rule failed; never checks the MAC (that needs the key).
    """
    try:
        parsed = parse_bytes(header)
    except CryptoError:
        raise Invalid("the header is not a complete age header") from None
    if len(parsed.stanzas) != 1:
        raise Invalid("a header has exactly one stanza, for one holder")
    _check_types(parsed, recipient_type)


def check_sealed(sealed: bytes, *, recipient_type: str) -> None:
    """Refuse `sealed` unless it is a binary age file whose stanzas are all of the type of
    `recipient_type` (a reply is sealed to several recipients at once). Raises `Invalid`."""
    try:
        header, _ = split_header(io.BytesIO(sealed))
        parsed = parse_bytes(header)
    except CryptoError:
        raise Invalid("the sealed message is not an age file") from None
    _check_types(parsed, recipient_type)


def _check_types(header: Header, recipient_type: str) -> None:
    expected = STANZA_TYPES[recipient_type]
    if any(stanza.type != expected for stanza in header.stanzas):
        raise Invalid(f"every stanza must be of the org's recipient type ({recipient_type})")
