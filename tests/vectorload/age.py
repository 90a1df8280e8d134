"""The one loader for the C2SP CCTV age vectors in ``tests/vectors/age`` (see its README).

Each file is ``key: value`` lines, one empty line, then the age file. ``identity`` and
``passphrase`` may repeat; ``compressed: zlib`` means the body must be inflated. A key
this loader does not know raises :class:`UnknownFieldError`, so a new kind of vector
fails loudly at collection instead of being skipped or misread.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

VECTOR_DIR = Path(__file__).resolve().parent.parent / "vectors" / "age"
EXPECTATIONS = frozenset(
    {"success", "no match", "HMAC failure", "header failure", "payload failure", "armor failure"}
)
_SINGLE = frozenset({"expect", "payload", "file key", "armored", "compressed", "comment"})
_REPEATED = frozenset({"identity", "passphrase"})


class UnknownFieldError(ValueError):
    """A vector uses a key or value this loader does not understand."""


@dataclass(frozen=True)
class AgeVector:
    """One CCTV age vector."""

    name: str
    expect: str
    payload_sha256: str | None
    file_key: bytes | None
    identities: tuple[str, ...]
    passphrases: tuple[str, ...]
    armored: bool
    comment: str | None
    age_file: bytes


def _fields(name: str, head: bytes) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    repeated: dict[str, list[str]] = {k: [] for k in _REPEATED}
    for line in head.decode("utf-8").split("\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            raise UnknownFieldError(f"{name}: malformed line {line!r}")
        if key in _REPEATED:
            repeated[key].append(value)
        elif key in _SINGLE and key not in single:
            single[key] = value
        else:
            raise UnknownFieldError(f"{name}: unknown or repeated key {key!r}")
    return single, repeated


def _flag(name: str, single: dict[str, str], key: str, value: str) -> bool:
    found = single.get(key)
    if found not in (None, value):
        raise UnknownFieldError(f"{name}: unsupported {key}: {found!r}")
    return found == value


def parse_vector(name: str, data: bytes) -> AgeVector:
    """Parse one vector file's bytes."""
    head, sep, body = data.partition(b"\n\n")
    if not sep:
        raise UnknownFieldError(f"{name}: no empty line after the fields")
    single, repeated = _fields(name, head)
    expect = single.get("expect", "")
    if expect not in EXPECTATIONS:
        raise UnknownFieldError(f"{name}: unknown expect {expect!r}")
    if _flag(name, single, "compressed", "zlib"):
        body = zlib.decompress(body)
    file_key = single.get("file key")
    return AgeVector(
        name=name,
        expect=expect,
        payload_sha256=single.get("payload"),
        file_key=bytes.fromhex(file_key) if file_key is not None else None,
        identities=tuple(repeated["identity"]),
        passphrases=tuple(repeated["passphrase"]),
        armored=_flag(name, single, "armored", "yes"),
        comment=single.get("comment"),
        age_file=body,
    )


def load_vectors(directory: Path = VECTOR_DIR) -> list[AgeVector]:
    """Every vector in ``directory`` (the README excepted), sorted by name."""
    paths = sorted(p for p in directory.iterdir() if p.is_file() and p.name != "README.md")
    return [parse_vector(p.name, p.read_bytes()) for p in paths]


def parametrize_vectors(
    vectors: list[AgeVector] | None = None,
) -> pytest.MarkDecorator:
    """``pytest.mark.parametrize("vector", …)`` with the file names as ids."""
    chosen = load_vectors() if vectors is None else vectors
    return pytest.mark.parametrize("vector", chosen, ids=[v.name for v in chosen])
