"""The sealed envelope (DESIGN.md section 3): padded reports and one-file tar attachments
that stock tools read, and hostile attachments refused, each named after its attack."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crypto.envelope import (
    ATTACHMENT_MIN_SIZE,
    MAX_NAME_BYTES,
    REPORT_MIN_SIZE,
    EnvelopeError,
    attachment_size,
    check_name,
    display_name,
    filesystem_name,
    open_attachment,
    open_report_plaintext,
    report_size,
    seal_report_plaintext,
    write_attachment,
)
from crypto.errors import CryptoError
from crypto.padding import padme

MIB = 1024 * 1024

# --- reports -----------------------------------------------------------------------


def _doc(length: int) -> bytes:
    """A JSON object of exactly `length` (>= 8) bytes."""
    return b'{"n":"' + b"x" * (length - 8) + b'"}'


@pytest.mark.parametrize("length", [8, 100, 1022, 1023, 1024, 5000, 70_000])
def test_a_report_round_trips_padded_to_its_bucket(length: int) -> None:
    doc = _doc(length)
    assert len(doc) == length
    sealed = seal_report_plaintext(doc)
    assert len(sealed) == report_size(len(doc)) == max(REPORT_MIN_SIZE, padme(len(doc) + 1))
    assert sealed.startswith(doc)
    assert set(sealed[len(doc) : -1]) <= {0x20}
    assert sealed.endswith(b"\n")
    assert open_report_plaintext(sealed) == doc


def test_short_reports_all_look_alike() -> None:
    sizes = {len(seal_report_plaintext(_doc(n))) for n in range(8, 1000)}
    assert sizes == {REPORT_MIN_SIZE}


def test_a_sealed_report_is_json_to_a_stock_reader() -> None:
    doc = json.dumps({"narrative": "홍길동"}, ensure_ascii=False).encode()
    assert json.loads(seal_report_plaintext(doc)) == {"narrative": "홍길동"}


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1}   \n x',
        b'{"a":1}{"b":2}',
        b'{"a":1}\x00\x00',
        b"[1,2]   \n",
        b"\xff\xfe",
        b"",
        b"   \n",
        b'{"a":"\xff"}',
    ],
    ids=[
        "text-after-padding",
        "second-document",
        "nul-padding",
        "not-an-object",
        "not-utf8",
        "empty",
        "only-padding",
        "bad-utf8-inside",
    ],
)
def test_a_report_plaintext_with_anything_but_trailing_whitespace_is_refused(
    data: bytes,
) -> None:
    with pytest.raises(EnvelopeError):
        open_report_plaintext(data)


@pytest.mark.parametrize("doc", [b' {"a":1}', b'{"a":1} ', b"not json"])
def test_sealing_wants_a_bare_json_object(doc: bytes) -> None:
    with pytest.raises(EnvelopeError):
        seal_report_plaintext(doc)


# --- attachments: round trips ------------------------------------------------------


def _envelope(data: bytes, name: str = "photo.jpg") -> bytes:
    sink = io.BytesIO()
    written = write_attachment(io.BytesIO(data), sink, name=name, size=len(data))
    assert written == len(sink.getvalue()) == attachment_size(name, len(data))
    return sink.getvalue()


def _only_entries(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


@pytest.mark.parametrize("size", [0, 1, 511, 512, 513, 64 * 1024, 3 * MIB + 7])
def test_an_attachment_round_trips(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    envelope = _envelope(data, "증거 사진.jpg")
    assert len(envelope) % 512 == 0
    assert len(envelope) >= ATTACHMENT_MIN_SIZE
    path = open_attachment(io.BytesIO(envelope), tmp_path)
    assert path == tmp_path / "증거 사진.jpg"
    assert path.read_bytes() == data
    assert _only_entries(tmp_path) == ["증거 사진.jpg"]
    assert path.stat().st_mode & 0o777 == 0o600


def test_small_attachments_all_look_alike() -> None:
    assert {attachment_size("a.txt", n) for n in range(0, 8000, 97)} == {ATTACHMENT_MIN_SIZE}


def test_the_envelope_size_is_a_padme_bucket_in_blocks() -> None:
    for size in (10**5, 10**6, 10**7, 512 * MIB):
        padded = attachment_size("a.bin", size)
        assert padded % 512 == 0
        assert size < padded <= (size + 3 * 512) * 1.12 + 512


def test_the_header_leaks_no_time_or_owner() -> None:
    with tarfile.open(fileobj=io.BytesIO(_envelope(b"x")), mode="r:") as archive:
        (member,) = archive.getmembers()
    assert (member.mtime, member.uid, member.gid, member.uname, member.gname) == (0, 0, 0, "", "")
    assert member.mode == 0o600


class _BoundedReader(io.RawIOBase):
    """`size` bytes of a repeating pattern, made up on the fly; records the largest read."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.largest = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self.left)
        self.largest = max(self.largest, len(buffer))
        buffer[:count] = bytes(range(256)) * (count // 256) + bytes(range(count % 256))
        self.left -= count
        return count


class _CountingSink(io.RawIOBase):
    def __init__(self) -> None:
        self.total = 0
        self.largest = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.total += len(data)
        self.largest = max(self.largest, len(data))
        return len(data)


def test_a_large_attachment_is_streamed_in_bounded_chunks() -> None:
    size = 96 * MIB + 3
    source, sink = _BoundedReader(size), _CountingSink()
    written = write_attachment(source, sink, name="video.mp4", size=size)  # type: ignore[arg-type]
    assert written == sink.total == attachment_size("video.mp4", size)
    assert source.largest <= 64 * 1024
    assert sink.largest <= 64 * 1024


@pytest.mark.parametrize(("declared", "actual"), [(10, 9), (10, 11)], ids=["short", "long"])
def test_a_source_that_does_not_match_its_size_is_refused(declared: int, actual: int) -> None:
    with pytest.raises(EnvelopeError):
        write_attachment(io.BytesIO(b"x" * actual), io.BytesIO(), name="a", size=declared)


@pytest.mark.parametrize(
    "name", ["", ".", "..", "a/b", "../x", "/etc/passwd", "a\\b", "a\x1bb", "a\u202eb"]
)
def test_a_bad_name_is_refused_when_writing(name: str) -> None:
    with pytest.raises(EnvelopeError):
        attachment_size(name, 1)


def test_a_name_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "a.tar.gz").write_bytes(b"kept")
    (tmp_path / "a (1).tar.gz").write_bytes(b"kept too")
    envelope = _envelope(b"new", "a.tar.gz")
    first = open_attachment(io.BytesIO(envelope), tmp_path)
    second = open_attachment(io.BytesIO(envelope), tmp_path)
    assert (first.name, second.name) == ("a (2).tar.gz", "a (3).tar.gz")
    assert (tmp_path / "a.tar.gz").read_bytes() == b"kept"
    assert first.read_bytes() == second.read_bytes() == b"new"


def test_a_symlink_in_the_way_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").symlink_to(outside)
    path = open_attachment(io.BytesIO(_envelope(b"x", "a.txt")), out)
    assert path.name == "a (1).txt"
    assert not outside.exists()


def test_an_unseekable_source_is_read_as_a_stream(tmp_path: Path) -> None:
    envelope = _envelope(b"streamed" * 1000)
    assert len(envelope) <= 60_000  # fits the pipe's buffer, so one thread suffices
    reader, writer = os.pipe()
    with os.fdopen(writer, "wb") as pipe_in:
        pipe_in.write(envelope)
    with os.fdopen(reader, "rb") as pipe_out:
        assert not pipe_out.seekable()
        assert open_attachment(pipe_out, tmp_path).read_bytes() == b"streamed" * 1000


# --- stock tools -------------------------------------------------------------------

TAR = shutil.which("tar")


@pytest.mark.parametrize("size", [0, 513, 2 * MIB])
@pytest.mark.parametrize("name", ["report.pdf", "증거 사진 " + "가" * 60 + ".jpg"])
def test_the_tar_command_lists_and_extracts_the_envelope(
    tmp_path: Path, size: int, name: str
) -> None:
    # A missing tar fails, never skips: the promise is that stock tools open envelopes.
    assert TAR is not None, "the stock tar command is needed: apt-get install tar"
    data = os.urandom(size)
    archive = tmp_path / "envelope.tar"
    archive.write_bytes(_envelope(data, name))
    listed = subprocess.run(
        [str(TAR), "-tvf", str(archive)], capture_output=True, timeout=60, check=True
    )
    assert name.encode() in listed.stdout
    assert not listed.stderr
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(
        [str(TAR), "-xf", str(archive), "-C", str(out)], capture_output=True, timeout=60, check=True
    )
    assert (out / name).read_bytes() == data


def test_pythons_tarfile_extracts_the_envelope(tmp_path: Path) -> None:
    data = os.urandom(70_000)
    with tarfile.open(fileobj=io.BytesIO(_envelope(data, "기록.txt")), mode="r:") as archive:
        assert archive.getnames() == ["기록.txt"]
        archive.extractall(tmp_path, filter="data")
    assert (tmp_path / "기록.txt").read_bytes() == data


# --- hostile envelopes -------------------------------------------------------------


def _tar(*members: tuple[tarfile.TarInfo, bytes], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    sink = io.BytesIO()
    with tarfile.open(fileobj=sink, mode="w", format=fmt) as archive:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return sink.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, **fields: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def _size_larger_than_the_archive() -> bytes:
    info = _member("big.bin")
    info.size = 10 * MIB
    return info.tobuf(format=tarfile.PAX_FORMAT) + b"x" * 512 + bytes(1024)


def _pax_path_over_a_benign_name() -> bytes:
    info = _member("benign.txt")
    info.pax_headers = {"path": "../../etc/passwd"}
    return _tar((info, b"root::0:0"))


def _gnu_sparse() -> bytes:
    block = bytearray(_member("sparse.bin").tobuf(format=tarfile.GNU_FORMAT))
    block[156:157] = tarfile.GNUTYPE_SPARSE
    block[148:156] = b" " * 8
    checksum = sum(block[:512])
    block[148:156] = b"%06o\0 " % checksum
    return bytes(block) + bytes(1024)


def _data_after_the_archive() -> bytes:
    return _envelope(b"first") + _tar((_member("second.sh"), b"rm -rf ~"))


def _second_member_after_one_zero_block() -> bytes:
    first = _tar((_member("a.txt"), b"a"))
    second = _tar((_member("b.txt"), b"b"))
    return first[:1024] + bytes(512) + second


HOSTILE: dict[str, Callable[[], bytes]] = {
    "path-traversal": lambda: _tar((_member("../../etc/passwd"), b"root::0:0")),
    "absolute-path": lambda: _tar((_member("/etc/passwd"), b"root::0:0")),
    "subdirectory": lambda: _tar((_member("docs/a.txt"), b"a")),
    "pax-path-override": _pax_path_over_a_benign_name,
    "gnu-long-name-traversal": lambda: _tar(
        (_member("../" * 40 + "etc/passwd"), b"x"), fmt=tarfile.GNU_FORMAT
    ),
    "symlink": lambda: _tar((_member("a.txt", tarfile.SYMTYPE, linkname="/etc/passwd"), b"")),
    "hardlink": lambda: _tar((_member("a.txt", tarfile.LNKTYPE, linkname="/etc/passwd"), b"")),
    "two-files": lambda: _tar((_member("a.txt"), b"a"), (_member("b.txt"), b"b")),
    "same-name-twice": lambda: _tar((_member("a.txt"), b"a"), (_member("a.txt"), b"evil")),
    "directory": lambda: _tar((_member("docs", tarfile.DIRTYPE), b"")),
    "device-node": lambda: _tar((_member("sda", tarfile.BLKTYPE, devmajor=8), b"")),
    "character-device": lambda: _tar((_member("null", tarfile.CHRTYPE, devmajor=1), b"")),
    "fifo": lambda: _tar((_member("pipe", tarfile.FIFOTYPE), b"")),
    "contiguous-file": lambda: _tar((_member("a.txt", tarfile.CONTTYPE), b"")),
    "gnu-sparse": _gnu_sparse,
    "terminal-escape-name": lambda: _tar((_member("a\x1b[2Jb.txt"), b"x")),
    "bidi-override-name": lambda: _tar((_member("invoice\u202egpj.exe"), b"MZ")),
    "newline-name": lambda: _tar((_member("a\nb.txt"), b"x")),
    "dot-name": lambda: _tar((_member("."), b"x")),
    "dot-dot-name": lambda: _tar((_member(".."), b"x")),
    "empty-name": lambda: _tar((_member(""), b"x")),
    "name-too-long": lambda: _tar((_member("가" * 86 + ".txt"), b"x")),
    "size-larger-than-archive": _size_larger_than_the_archive,
    "data-after-the-archive": _data_after_the_archive,
    "second-member-after-one-zero-block": _second_member_after_one_zero_block,
    "no-member": lambda: bytes(10240),
    "empty": lambda: b"",
    "gzip": lambda: __import__("gzip").compress(_envelope(b"x")),
    "truncated": lambda: _envelope(b"y" * 5000)[:1536],
}


@pytest.mark.parametrize("attack", HOSTILE, ids=list(HOSTILE))
def test_a_hostile_envelope_is_refused_and_writes_nothing(tmp_path: Path, attack: str) -> None:
    out = tmp_path / "deep" / "out"
    out.mkdir(parents=True)
    with pytest.raises(EnvelopeError):
        open_attachment(io.BytesIO(HOSTILE[attack]()), out)
    assert _only_entries(out) == []
    assert _only_entries(tmp_path) == ["deep"]
    assert _only_entries(tmp_path / "deep") == ["out"]


def test_a_file_larger_than_the_callers_limit_is_refused(tmp_path: Path) -> None:
    envelope = _envelope(b"z" * 5000)
    with pytest.raises(EnvelopeError, match="larger than allowed"):
        open_attachment(io.BytesIO(envelope), tmp_path, max_size=4999)
    assert _only_entries(tmp_path) == []
    assert open_attachment(io.BytesIO(envelope), tmp_path, max_size=5000).stat().st_size == 5000


def test_a_refusal_does_not_repeat_the_name(tmp_path: Path) -> None:
    with pytest.raises(EnvelopeError) as caught:
        open_attachment(io.BytesIO(HOSTILE["terminal-escape-name"]()), tmp_path)
    assert "\x1b" not in caught.value.diagnostics()


@given(st.binary(max_size=4096))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(b"\0" * 512 + b"x")
def test_arbitrary_bytes_are_refused_as_envelope_errors(tmp_path: Path, data: bytes) -> None:
    try:
        path = open_attachment(io.BytesIO(data), tmp_path)
    except CryptoError:
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tvault-partial")]
    else:
        path.unlink()


@given(st.data())
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
def test_a_damaged_envelope_is_refused_or_yields_one_file(
    tmp_path: Path, data: st.DataObject
) -> None:
    envelope = bytearray(_envelope(b"content" * 100, "이름.txt"))
    for _ in range(data.draw(st.integers(1, 8))):
        envelope[data.draw(st.integers(0, len(envelope) - 1))] = data.draw(st.integers(0, 255))
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    try:
        path = open_attachment(io.BytesIO(bytes(envelope)), out)
    except CryptoError:
        assert not list(out.iterdir())
    else:
        assert path.parent == out
        assert list(out.iterdir()) == [path]
        path.unlink()


# --- names -------------------------------------------------------------------------


def _escaped_categories(text: str) -> set[str]:
    return {unicodedata.category(c) for c in text} & {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


@given(st.text())
@example("\x1b[2J\x9b31m\u202e\u2066\u2069\x7f\\")
def test_a_displayed_name_has_no_control_characters(name: str) -> None:
    shown = display_name(name)
    assert not _escaped_categories(shown)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("invoice\u202egpj.exe", "invoice\\u202egpj.exe"),
        ("\u2066x\u2069", "\\u2066x\\u2069"),
        ("c1\x9b", "c1\\x9b"),
        ("back\\slash", "back\\\\slash"),
        ("증거 사진.jpg", "증거 사진.jpg"),
    ],
)
def test_display_name_escapes(name: str, shown: str) -> None:
    assert display_name(name) == shown


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ('a<b>c:d"e|f?g*h.txt', "a_b_c_d_e_f_g_h.txt"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("trailing. ", "trailing"),
        ("...", "attachment"),
        (unicodedata.normalize("NFD", "홍길동.txt"), "홍길동.txt"),
    ],
)
def test_filesystem_names(name: str, safe: str) -> None:
    assert filesystem_name(name) == safe


@given(st.text(min_size=1, max_size=300))
def test_a_name_is_accepted_only_if_it_is_a_plain_base_name(name: str) -> None:
    try:
        check_name(name)
    except EnvelopeError:
        return
    assert "/" not in name
    assert name not in (".", "..")
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert len(filesystem_name(name).encode()) <= MAX_NAME_BYTES
