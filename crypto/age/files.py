"""Whole age files: encrypt and decrypt streams, and one payload with many headers.

``encrypt``/``decrypt`` are the library contract of DESIGN.md section 3. ``seal`` and
``split_header`` serve the vault's storage model: the payload is stored once and each
recipient gets its own complete header, so ``header_i ‖ payload`` is a valid age file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO, NamedTuple

from crypto.age.armor import ArmorReader, ArmorWriter
from crypto.age.format import INTRO, LineReader, parse
from crypto.age.header import header_for, open_header
from crypto.age.primitives import new_file_key
from crypto.age.recipients import check_recipients, parse_recipient, to_identities, to_recipients
from crypto.age.scrypt import DEFAULT_MAX_WORK_FACTOR
from crypto.age.source import Readable, Source
from crypto.age.stream import open_payload, seal_payload
from crypto.errors import CryptoError, DecryptError, RecipientError

_BINARY_PREFIX = INTRO[: INTRO.index(b"/") + 1]  # b"age-encryption.org/"


def encrypt(
    src: BinaryIO,
    dst: BinaryIO,
    recipients: Sequence[str] = (),
    *,
    passphrase: str | None = None,
    armor: bool = False,
    scrypt_work_factor: int | None = None,
) -> None:
    """Encrypt all of ``src`` into ``dst`` as one age file.

    Give recipient strings of one type, or a passphrase alone (scrypt, log2 work factor
    ``scrypt_work_factor``, default 18). Raises KeyFormatError or RecipientError before
    anything is written. Neither stream is closed.
    """
    targets = to_recipients(recipients, passphrase, scrypt_work_factor)
    file_key = new_file_key()
    header = header_for(file_key, targets)
    if not armor:
        dst.write(header)
        seal_payload(src, dst, file_key)
        return
    writer = ArmorWriter(dst)
    writer.write(header)
    seal_payload(src, writer, file_key)
    writer.close()


def _unarmored(src: BinaryIO) -> Readable:
    """``src`` as binary age: itself if it starts like the binary intro, else its armor.

    Anything that does not begin like ``age-encryption.org/`` (including leading
    whitespace, which the armor allows) goes to the strict armor reader.
    """
    head = Source(src).read(len(_BINARY_PREFIX))
    source = Source(src, head)
    if _BINARY_PREFIX.startswith(head):  # also true for empty or truncated input
        return source
    return ArmorReader(source)


def _decrypt(
    src: BinaryIO,
    dst: BinaryIO,
    identities: Sequence[str],
    *,
    passphrase: str | None,
    max_work_factor: int,
) -> None:
    keys = to_identities(identities, passphrase, max_work_factor)
    source = _unarmored(src)
    lines = LineReader(source)
    file_key = open_header(parse(lines), keys)
    open_payload(Source(source, lines.rest()), dst, file_key)


def decrypt(
    src: BinaryIO,
    dst: BinaryIO,
    identities: Sequence[str] = (),
    *,
    passphrase: str | None = None,
    max_work_factor: int = DEFAULT_MAX_WORK_FACTOR,
) -> None:
    """Decrypt the binary or armored age file in ``src`` into ``dst``.

    Only authenticated plaintext is written: on PayloadError, ``dst`` holds exactly the
    chunks that authenticated before the failure. Any malformed input raises a
    CryptoError subclass (see :mod:`crypto.errors`); errors of the streams themselves
    (OSError) propagate. scrypt stanzas above ``max_work_factor`` are refused unopened.
    Neither stream is closed.
    """
    try:
        _decrypt(src, dst, identities, passphrase=passphrase, max_work_factor=max_work_factor)
    except CryptoError:
        raise
    except (ValueError, LookupError, ArithmeticError) as exc:
        # Defence in depth: the parsers are written so this never happens (the fuzz tests
        # assert a specific subclass); if it does, the caller still gets one error family.
        raise DecryptError("malformed input") from exc


class Sealed(NamedTuple):
    """What :func:`seal` made: the file key, and one complete header per recipient."""

    file_key: bytes
    headers: dict[str, bytes]


def seal(src: BinaryIO, payload_dst: BinaryIO, recipients: Sequence[str]) -> Sealed:
    """Write the payload of ``src`` once to ``payload_dst``; make one header per recipient.

    Each header has a single stanza and its own MAC, so ``headers[r] + payload`` is a
    valid age file for recipient ``r``. All recipients must be of one type. Headers are
    made before anything is written, so a bad recipient leaves ``payload_dst`` untouched.
    """
    if isinstance(recipients, str):
        raise RecipientError("recipients must be a sequence of strings, not one string")
    parsed = {text: parse_recipient(text) for text in recipients}
    check_recipients(list(parsed.values()))
    file_key = new_file_key()
    headers = {text: header_for(file_key, [r]) for text, r in parsed.items()}
    seal_payload(src, payload_dst, file_key)
    return Sealed(file_key, headers)


def split_header(src: BinaryIO) -> tuple[bytes, bytes]:
    """Read one binary header from ``src``: ``(header, payload_head)``.

    ``header`` is the complete header, MAC line included (not verified: that needs the
    file key). The payload is ``payload_head`` followed by the rest of ``src``, because
    parsing reads ahead. Raises HeaderError.
    """
    lines = LineReader(Source(src))
    return parse(lines).marshal(), lines.rest()
