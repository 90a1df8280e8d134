"""What is sealed (DESIGN.md section 3, "Envelope and padding"): a padded plaintext that a
stock age decrypter still turns into something usable.

- A **report** is its canonical JSON followed by ASCII spaces and one newline, up to its
  Padmé bucket (at least :data:`REPORT_MIN_SIZE`, so short reports all look alike).
- An **attachment** is a POSIX (pax) tar archive holding exactly one regular file under its
  real base name, followed by zero blocks up to its Padmé bucket (at least
  :data:`ATTACHMENT_MIN_SIZE`, one tar record). Tar ends at the first zero block, so
  ``tar -xf`` and Python's :mod:`tarfile` read it unchanged. The header leaks nothing of
  the sender: mtime 0, uid and gid 0, no user or group names, mode 0600.

Opening refuses anything this module would not have written. An attachment came from an
anonymous source and may be hostile, so :func:`open_attachment` accepts one regular file
whose name is a plain base name, within the size the caller allows, and never writes
outside the directory it is given or over an existing file. Every refusal is an
:class:`EnvelopeError`; its message never repeats the name or data found.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import tempfile
import unicodedata
from pathlib import Path
from typing import BinaryIO, Final

from crypto.errors import CryptoError
from crypto.padding import padme

REPORT_MIN_SIZE: Final = 1024
REPORT_MAX_SIZE: Final = 16 * 1024 * 1024
"""A report plaintext larger than this is refused unread: reports are far smaller."""
ATTACHMENT_MIN_SIZE: Final = tarfile.RECORDSIZE  # 10 KiB, what tar itself writes at least
MAX_NAME_BYTES: Final = 255  # NAME_MAX on common filesystems

_BLOCK: Final = tarfile.BLOCKSIZE
_END_OF_ARCHIVE: Final = 2 * _BLOCK  # two zero blocks (POSIX ustar)
_CHUNK: Final = 64 * 1024
_FILE_MODE: Final = 0o600
_JSON_WHITESPACE: Final = b" \t\r\n"
_REGULAR: Final = (tarfile.REGTYPE, tarfile.AREGTYPE)
_MAX_COLLISIONS: Final = 1000


class EnvelopeError(CryptoError):
    """A plaintext is not an envelope this module would write, or asks for something
    unsafe (a second file, a link, a path, a name that rewrites the terminal, a bomb)."""

    summary = "the envelope is refused"


# --- reports -----------------------------------------------------------------------


def report_size(length: int) -> int:
    """The padded size of a report document of `length` bytes (room for the newline)."""
    return max(REPORT_MIN_SIZE, padme(length + 1))


def seal_report_plaintext(doc: bytes) -> bytes:
    """Pad a report document for sealing: `doc`, spaces, then a newline, to its bucket.

    `doc` must be one UTF-8 JSON object with no surrounding whitespace (the canonical
    encoding, e.g. :func:`vault.report.encode_report`), so that opening returns it
    exactly. Raises EnvelopeError otherwise.
    """
    _check_report_document(doc)
    size = report_size(len(doc))
    return doc + b" " * (size - len(doc) - 1) + b"\n"


def open_report_plaintext(data: bytes) -> bytes:
    """The report document inside a padded report plaintext.

    Only trailing whitespace is removed; anything else after the JSON object is refused
    with EnvelopeError, as is a plaintext over :data:`REPORT_MAX_SIZE`.
    """
    if len(data) > REPORT_MAX_SIZE:
        raise EnvelopeError("the report plaintext is larger than any report")
    doc = data.rstrip(_JSON_WHITESPACE)
    _check_report_document(doc)
    return doc


def _check_report_document(doc: bytes) -> None:
    if doc != doc.strip(_JSON_WHITESPACE):
        raise EnvelopeError("the report document has surrounding whitespace")
    try:
        value = json.loads(doc.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise EnvelopeError("the report is not one JSON document") from None
    if not isinstance(value, dict):
        raise EnvelopeError("the report is not a JSON object")


# --- attachments: writing ----------------------------------------------------------


def attachment_size(name: str, size: int) -> int:
    """The size of the envelope :func:`write_attachment` writes for a file `name` of
    `size` bytes, known before any byte is read. Raises EnvelopeError for a bad name."""
    if size < 0:
        raise ValueError("a size cannot be negative")
    length = len(_tar_header(name, size)) + _blocks(size) + _END_OF_ARCHIVE
    return _blocks(max(ATTACHMENT_MIN_SIZE, padme(length)))


def write_attachment(src: BinaryIO, dst: BinaryIO, *, name: str, size: int) -> int:
    """Write the attachment envelope of `size` bytes read from `src`, named `name`, to `dst`.

    Streams in chunks of at most 64 KiB, so memory stays bounded whatever `size` is.
    `name` is the file's real base name (see :func:`check_name`). Returns the number of
    bytes written, which is :func:`attachment_size`. Raises EnvelopeError if the name is
    unusable or `src` holds fewer or more than `size` bytes. The caller closes both
    streams; on an error `dst` holds a partial envelope to discard.
    """
    total = attachment_size(name, size)
    header = _tar_header(name, size)
    dst.write(header)
    remaining = size
    while remaining:
        chunk = src.read(min(_CHUNK, remaining))
        if not chunk:
            raise EnvelopeError("the attachment is shorter than its declared size")
        dst.write(chunk)
        remaining -= len(chunk)
    if src.read(1):
        raise EnvelopeError("the attachment is longer than its declared size")
    _write_zeros(dst, total - len(header) - size)
    return total


def _tar_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(check_name(name))
    info.size = size
    info.mode = _FILE_MODE
    info.mtime = 0  # the file's time would say when the source had it
    info.type = tarfile.REGTYPE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    # pax carries a UTF-8 name of any length; a plain ASCII name stays a bare ustar header.
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="strict")


def _blocks(length: int) -> int:
    return -(-length // _BLOCK) * _BLOCK


def _write_zeros(dst: BinaryIO, count: int) -> None:
    zeros = bytes(min(_CHUNK, count))
    while count:
        dst.write(zeros[: min(_CHUNK, count)])
        count -= min(_CHUNK, count)


# --- names -------------------------------------------------------------------------

# Refused in a name: C0, DEL and C1 (Cc), surrogates, the line and paragraph separators,
# and the bidirectional marks, embeddings, overrides and isolates, which can make a name
# read differently from what it is (U+061C, U+200E-F, U+202A-E, U+2066-9).
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cs", "Zl", "Zp"})
_BIDI: Final = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Escaped when shown: all of those, and every other format (Cf), private-use or unassigned
# character, so nothing invisible reaches a terminal.
_ESCAPED_CATEGORIES: Final = _REFUSED_CATEGORIES | {"Cf", "Co", "Cn"}


def _refused(char: str) -> bool:
    return char in _BIDI or unicodedata.category(char) in _REFUSED_CATEGORIES


def check_name(name: str) -> str:
    """Return `name` if it can be an attachment's name, else raise EnvelopeError.

    A name is a plain base name: not empty, not ``.`` or ``..``, without ``/``, ``\\``
    or NUL, at most :data:`MAX_NAME_BYTES` bytes of UTF-8, and without control, format
    (bidi) or separator characters.
    """
    if name in ("", ".", ".."):
        raise EnvelopeError("the file name is empty, '.' or '..'")
    if any(char in name for char in "/\\\0"):
        raise EnvelopeError("the file name is a path, not a base name")
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        raise EnvelopeError("the file name is not valid Unicode") from None
    if len(encoded) > MAX_NAME_BYTES:
        raise EnvelopeError(f"the file name is longer than {MAX_NAME_BYTES} bytes")
    if any(_refused(char) for char in name):
        raise EnvelopeError("the file name contains control or formatting characters")
    return name


def display_name(name: str) -> str:
    """`name` made safe to print on a terminal: every control, escape, format (bidi) or
    separator character, and the backslash, is written as a Python-style escape."""
    return "".join(
        _escape(char) if char == "\\" or unicodedata.category(char) in _ESCAPED_CATEGORIES else char
        for char in name
    )


def _escape(char: str) -> str:
    point = ord(char)
    if char == "\\":
        return "\\\\"
    if point < 0x100:
        return f"\\x{point:02x}"
    return f"\\u{point:04x}" if point < 0x10000 else f"\\U{point:08x}"


# Characters that Windows, macOS or common sync tools refuse in a name.
_ILLEGAL_ON_FILESYSTEMS: Final = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_WINDOWS_RESERVED: Final = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?", re.IGNORECASE)


def filesystem_name(name: str) -> str:
    """A name for `name` that every common filesystem accepts: NFC, illegal characters
    replaced by ``_``, no trailing dot or space, no Windows device name."""
    safe = _ILLEGAL_ON_FILESYSTEMS.sub("_", unicodedata.normalize("NFC", name))
    safe = safe.rstrip(". ") or "attachment"
    if _WINDOWS_RESERVED.fullmatch(safe):
        safe = "_" + safe
    while len(safe.encode("utf-8")) > MAX_NAME_BYTES:  # NFC may lengthen a few scripts
        safe = safe[:-1]
    return safe


# --- attachments: opening ----------------------------------------------------------


def open_attachment(src: BinaryIO, out_dir: Path, *, max_size: int | None = None) -> Path:
    """Extract the one file of an attachment envelope read from `src` into `out_dir`.

    `out_dir` must exist. The file gets its real name made safe by
    :func:`filesystem_name`, or ``name (1).ext`` and so on if that name is taken: nothing
    is overwritten, nothing is written outside `out_dir`, and nothing is left behind on a
    refusal. Returns the path written.

    Raises EnvelopeError for anything :func:`write_attachment` would not write: not a
    tar archive, no member or more than one, a member that is not a regular file, a name
    :func:`check_name` refuses, a declared size larger than the envelope (when `src` is
    seekable) or than `max_size`, truncated data, or non-zero bytes after the archive.
    The member passes through tarfile's ``data`` filter too. The caller closes `src`.
    """
    available = _remaining(src)
    # A private directory of our own: the data filter judges the member against it (an
    # existing link in out_dir cannot sway it), and a refusal removes it whole.
    staging = Path(tempfile.mkdtemp(prefix=".tvault-partial-", dir=out_dir))
    try:
        with tarfile.open(fileobj=src, mode="r|", encoding="utf-8", errors="strict") as archive:
            member = archive.next()
            if member is None:
                raise EnvelopeError("the envelope holds no file")
            _check_member(member, available=available, max_size=max_size)
            try:
                tarfile.data_filter(member, str(staging))
            except tarfile.FilterError:
                raise EnvelopeError("tarfile's data filter refuses the file") from None
            partial = _copy_member(archive, member, staging / "data")
            if archive.next() is not None:
                raise EnvelopeError("the envelope holds more than one file")
            _check_zero_tail(archive)
        return _place(partial, out_dir, filesystem_name(member.name))
    except (tarfile.TarError, EOFError, UnicodeError, ValueError):
        raise EnvelopeError("the envelope is not a valid tar archive") from None
    finally:
        shutil.rmtree(staging)


def _remaining(src: BinaryIO) -> int | None:
    if not src.seekable():
        return None
    here = src.tell()
    end = src.seek(0, os.SEEK_END)
    src.seek(here)
    return end - here


def _check_member(member: tarfile.TarInfo, *, available: int | None, max_size: int | None) -> None:
    if member.type not in _REGULAR or member.issparse():
        raise EnvelopeError("the envelope holds something other than a regular file")
    check_name(member.name)
    if member.size < 0 or (available is not None and member.size > available):
        raise EnvelopeError("the file's declared size is larger than the envelope")
    if max_size is not None and member.size > max_size:
        raise EnvelopeError("the file is larger than allowed")


def _copy_member(archive: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> Path:
    """Stream the member's data into the new private file `path`."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    data = archive.extractfile(member)
    if data is None:  # unreachable for a regular file; kept for the type checker
        raise EnvelopeError("the envelope holds something other than a regular file")
    copied = 0
    with os.fdopen(os.open(path, flags, _FILE_MODE), "wb") as out:
        while chunk := data.read(_CHUNK):
            copied += len(chunk)
            out.write(chunk)
    if copied != member.size:
        raise EnvelopeError("the file's data is shorter than its declared size")
    return path


def _check_zero_tail(archive: tarfile.TarFile) -> None:
    # tarfile stops at the first zero block; what follows must be padding, not a hidden
    # second payload that another tar reader might find.
    stream = archive.fileobj
    assert stream is not None
    while chunk := stream.read(_CHUNK):
        if chunk.count(0) != len(chunk):
            raise EnvelopeError("the envelope has data after the archive")


def _place(partial: Path, out_dir: Path, name: str) -> Path:
    stem, dot, suffix = name.partition(".") if not name.startswith(".") else (name, "", "")
    for attempt in range(_MAX_COLLISIONS):
        candidate = out_dir / (name if attempt == 0 else f"{stem} ({attempt}){dot}{suffix}")
        try:
            os.link(partial, candidate)  # fails if the name exists, even as a dangling link
        except FileExistsError:
            continue
        return candidate
    raise EnvelopeError("too many files with this name in the output directory")
