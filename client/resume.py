"""The one file a source's client keeps: the encrypted state of an unfinished upload.

`uploads/<name>` in the home, where ``name`` is the hex SHA-256 of the org fingerprint,
a newline and the report file's bytes (`state_name`), so running the same command again
finds it without asking anything. The file is ``MAGIC ‖ nonce (12) ‖ ChaCha20-Poly1305``
under the codename's `resume_key`, with the name as associated data, holding (JSON) the
submission id, the roster version used and each record's id, kind, padded size, file
key, STREAM nonce and headers: enough to re-seal byte for byte and continue from the
server's offset. Without the codename it reveals nothing but that an upload is pending.
It is deleted when the submission completes (docs/submissions.md, "Resuming").
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from client.errors import ClientError
from client.home import Home

UPLOADS: Final = "uploads"
MAGIC: Final = b"tvault-resume/v1\n"
_NONCE_SIZE: Final = 12


def state_name(fingerprint: str, report: bytes) -> str:
    """The resume file's name for this org and report file."""
    return hashlib.sha256(fingerprint.encode("ascii") + b"\n" + report).hexdigest()


@dataclass
class RecordState:
    """One record of a submission as sealed: re-sealing with these gives the same bytes."""

    id: str
    kind: str
    size: int
    file_key: bytes
    nonce: bytes
    headers: dict[str, bytes]
    #: For an attachment: the file's base name, size and mtime, to check it is the same.
    name: str | None = None
    plain_size: int | None = None
    mtime_ns: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "size": self.size,
            "file_key": _b64(self.file_key),
            "nonce": _b64(self.nonce),
            "headers": {holder: _b64(header) for holder, header in self.headers.items()},
            "name": self.name,
            "plain_size": self.plain_size,
            "mtime_ns": self.mtime_ns,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> RecordState:
        return cls(
            id=str(value["id"]),
            kind=str(value["kind"]),
            size=int(value["size"]),
            file_key=base64.b64decode(value["file_key"]),
            nonce=base64.b64decode(value["nonce"]),
            headers={str(h): base64.b64decode(v) for h, v in value["headers"].items()},
            name=value.get("name"),
            plain_size=value.get("plain_size"),
            mtime_ns=value.get("mtime_ns"),
        )


@dataclass
class UploadState:
    submission: str
    roster_version: int
    chunk_bytes: int
    records: list[RecordState] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "submission": self.submission,
                "roster_version": self.roster_version,
                "chunk_bytes": self.chunk_bytes,
                "records": [r.to_json() for r in self.records],
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> UploadState:
        value = json.loads(data)
        return cls(
            submission=str(value["submission"]),
            roster_version=int(value["roster_version"]),
            chunk_bytes=int(value["chunk_bytes"]),
            records=[RecordState.from_json(r) for r in value["records"]],
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class ResumeFile:
    """The resume file of one org and report in one home."""

    def __init__(self, home: Home, name: str) -> None:
        self.home = home
        self.name = name

    @property
    def path(self) -> Path:
        return self.home.path / UPLOADS / self.name

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self, key: bytes) -> UploadState:
        """Decrypt the state. Raises `ClientError` if the codename is not the one it was
        written under (or the file was altered)."""
        data = self.path.read_bytes()
        if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _NONCE_SIZE:
            raise ClientError(f"{self.path} is not a tvault resume file")
        body = data[len(MAGIC) :]
        try:
            plain = ChaCha20Poly1305(key).decrypt(
                body[:_NONCE_SIZE], body[_NONCE_SIZE:], self.name.encode()
            )
            return UploadState.from_bytes(plain)
        except InvalidTag:
            raise ClientError(
                "this codename does not open the unfinished upload of this report: check "
                "the codename printed when it started"
            ) from None
        except (ValueError, KeyError, TypeError):
            raise ClientError(f"{self.path} is damaged") from None

    def save(self, key: bytes, state: UploadState) -> None:
        """Write the encrypted state whole (temporary file, fsync, rename), mode 0600."""
        nonce = os.urandom(_NONCE_SIZE)
        sealed = ChaCha20Poly1305(key).encrypt(nonce, state.to_bytes(), self.name.encode())
        directory = self.home.ensure() / UPLOADS
        try:
            directory.mkdir(mode=0o700, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=".resume.", dir=directory)
            with os.fdopen(fd, "wb") as sink:
                sink.write(MAGIC + nonce + sealed)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            raise ClientError(f"cannot write {self.path}: {exc.strerror}") from None

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # only if no other upload is pending
            (self.home.path / UPLOADS).rmdir()
