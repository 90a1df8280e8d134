"""The age implementations the interoperability tests pair with ours, behind one interface.

Each peer turns bytes into bytes, so a test reads the same whichever implementation is on
either side: `ours` (crypto.age), the Debian `age` command, pyrage, and typage (npm
`age-encryption`) run by Node. Every call that fails raises `PeerError` carrying the
peer's own diagnostics, so a failed test shows why the other side refused.

Identities travel as strings everywhere; a peer that wants an identity file gets one
written to a private temporary directory for the length of one call.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import select
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

import pyrage

import crypto.age

Kind = Literal["pq", "x25519"]

JS_DIR = Path(__file__).resolve().parent / "js"
NPM_CI_COMMAND = "npm ci --prefix tests/interop/js"
# Generous: every call here takes well under a second on an idle machine.
SUBPROCESS_TIMEOUT = 60.0


class PeerError(Exception):
    """A peer refused or failed an operation; the message holds its diagnostics."""


class Peer(Protocol):
    """One age implementation, seen through bytes in and bytes out."""

    name: str
    kinds: frozenset[Kind]

    def generate_identity(self, kind: Kind) -> str: ...

    def recipient_of(self, identity: str) -> str: ...

    def encrypt(self, plaintext: bytes, recipients: Sequence[str], *, armor: bool) -> bytes: ...

    def decrypt(self, ciphertext: bytes, identities: Sequence[str]) -> bytes: ...

    def encrypt_passphrase(self, plaintext: bytes, passphrase: str, *, armor: bool) -> bytes: ...

    def decrypt_passphrase(self, ciphertext: bytes, passphrase: str) -> bytes: ...


class Ours:
    """crypto.age, the implementation under test."""

    name = "ours"
    kinds: frozenset[Kind] = frozenset({"pq", "x25519"})

    def __init__(self, *, scrypt_work_factor: int) -> None:
        # Peers decrypt whatever work factor we choose; a low one keeps the suite fast.
        self.scrypt_work_factor = scrypt_work_factor

    def generate_identity(self, kind: Kind) -> str:
        return crypto.age.generate_identity(kind)

    def recipient_of(self, identity: str) -> str:
        return crypto.age.recipient_of(identity)

    def encrypt(self, plaintext: bytes, recipients: Sequence[str], *, armor: bool) -> bytes:
        dst = io.BytesIO()
        crypto.age.encrypt(io.BytesIO(plaintext), dst, recipients, armor=armor)
        return dst.getvalue()

    def decrypt(self, ciphertext: bytes, identities: Sequence[str]) -> bytes:
        dst = io.BytesIO()
        crypto.age.decrypt(io.BytesIO(ciphertext), dst, identities)
        return dst.getvalue()

    def encrypt_passphrase(self, plaintext: bytes, passphrase: str, *, armor: bool) -> bytes:
        dst = io.BytesIO()
        crypto.age.encrypt(
            io.BytesIO(plaintext),
            dst,
            passphrase=passphrase,
            armor=armor,
            scrypt_work_factor=self.scrypt_work_factor,
        )
        return dst.getvalue()

    def decrypt_passphrase(self, ciphertext: bytes, passphrase: str) -> bytes:
        dst = io.BytesIO()
        crypto.age.decrypt(io.BytesIO(ciphertext), dst, passphrase=passphrase)
        return dst.getvalue()


def _run(argv: Sequence[str], stdin: bytes) -> bytes:
    proc = subprocess.run(
        list(argv),
        input=stdin,
        capture_output=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        raise PeerError(
            f"{' '.join(argv[:3])} exited {proc.returncode}: "
            f"{proc.stderr.decode(errors='replace').strip()}"
        )
    return proc.stdout


def _identity_file(directory: str, identities: Sequence[str]) -> str:
    path = Path(directory) / "identities.txt"
    path.write_text("".join(f"{identity}\n" for identity in identities))
    path.chmod(0o600)
    return str(path)


class AgeCli:
    """The Debian `age` and `age-keygen` commands (age 1.1.1: X25519 and scrypt only)."""

    name = "age"
    kinds: frozenset[Kind] = frozenset({"x25519"})

    def generate_identity(self, kind: Kind) -> str:
        if kind != "x25519":
            raise PeerError(f"age-keygen cannot make {kind} identities")
        out = _run(["age-keygen"], b"").decode()
        (identity,) = (line for line in out.splitlines() if line.startswith("AGE-SECRET-KEY-"))
        return identity

    def recipient_of(self, identity: str) -> str:
        return _run(["age-keygen", "-y"], f"{identity}\n".encode()).decode().strip()

    def encrypt(self, plaintext: bytes, recipients: Sequence[str], *, armor: bool) -> bytes:
        argv = ["age", "--encrypt", *(a for r in recipients for a in ("-r", r))]
        return _run([*argv, "--armor"] if armor else argv, plaintext)

    def decrypt(self, ciphertext: bytes, identities: Sequence[str]) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            return _run(["age", "--decrypt", "-i", _identity_file(tmp, identities)], ciphertext)

    def encrypt_passphrase(self, plaintext: bytes, passphrase: str, *, armor: bool) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "in", Path(tmp) / "out.age"
            src.write_bytes(plaintext)
            argv = ["age", "--encrypt", "--passphrase", "-o", str(dst), str(src)]
            _run_with_terminal([*argv[:3], "--armor", *argv[3:]] if armor else argv, passphrase)
            return dst.read_bytes()

    def decrypt_passphrase(self, ciphertext: bytes, passphrase: str) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "in.age", Path(tmp) / "out"
            src.write_bytes(ciphertext)
            _run_with_terminal(["age", "--decrypt", "-o", str(dst), str(src)], passphrase)
            # age creates the -o file on its first write: an empty plaintext leaves none.
            return dst.read_bytes() if dst.exists() else b""


# age prompts "Enter passphrase ...:" and, when encrypting, "Confirm passphrase:".
_PROMPT = re.compile(rb"(?i)passphrase[^:\n]*:")


def _run_with_terminal(argv: Sequence[str], passphrase: str) -> None:
    """Run `age`, answering each passphrase prompt on a pseudo-terminal.

    age reads passphrases only from a terminal: /dev/tty, or else standard input when that
    is a terminal. The child gets a new session, so it has no controlling terminal and
    /dev/tty cannot reach the developer's real one; it falls back to its standard input,
    the pty's slave side, and prompts on standard error, the same slave. Data goes through
    file arguments, never the terminal.
    """
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=subprocess.DEVNULL,
            stderr=slave,
            start_new_session=True,
        )
    finally:
        os.close(slave)
    transcript, answered = b"", 0
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([master], [], [], remaining)
            if not ready:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: every slave descriptor closed, the child is done
                break
            if not data:
                break
            transcript += data
            for _ in range(len(_PROMPT.findall(transcript)) - answered):
                os.write(master, passphrase.encode() + b"\n")
                answered += 1
        returncode = proc.wait(timeout=max(deadline - time.monotonic(), 1.0))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    if returncode != 0:
        raise PeerError(
            f"{' '.join(argv[:2])} exited {returncode}: {transcript.decode(errors='replace')}"
        )


class Pyrage:
    """pyrage, the Python binding of rage (X25519 and scrypt)."""

    name = "pyrage"
    kinds: frozenset[Kind] = frozenset({"x25519"})

    def generate_identity(self, kind: Kind) -> str:
        if kind != "x25519":
            raise PeerError(f"pyrage cannot make {kind} identities")
        return str(pyrage.x25519.Identity.generate())

    def recipient_of(self, identity: str) -> str:
        return str(pyrage.x25519.Identity.from_str(identity).to_public())

    def encrypt(self, plaintext: bytes, recipients: Sequence[str], *, armor: bool) -> bytes:
        parsed = [pyrage.x25519.Recipient.from_str(r) for r in recipients]
        return self._call(pyrage.encrypt, plaintext, parsed, armor)

    def decrypt(self, ciphertext: bytes, identities: Sequence[str]) -> bytes:
        parsed = [pyrage.x25519.Identity.from_str(i) for i in identities]
        return self._call(pyrage.decrypt, ciphertext, parsed)

    def encrypt_passphrase(self, plaintext: bytes, passphrase: str, *, armor: bool) -> bytes:
        return self._call(pyrage.passphrase.encrypt, plaintext, passphrase, armor)

    def decrypt_passphrase(self, ciphertext: bytes, passphrase: str) -> bytes:
        return self._call(pyrage.passphrase.decrypt, ciphertext, passphrase)

    @staticmethod
    def _call(fn: object, *args: object) -> bytes:
        assert callable(fn)
        try:
            result = fn(*args)
        except Exception as exc:  # pyrage raises its own, untyped, exception classes
            raise PeerError(f"pyrage: {type(exc).__name__}: {exc}") from exc
        return bytes(result)


class Typage:
    """typage (npm `age-encryption`), served by one Node process running js/typage.mjs.

    Node takes a good fraction of a second to start and load the ML-KEM code, so one
    process answers every call of a session: one JSON request a line in, one reply a line
    out (see js/typage.mjs). `close` ends it.
    """

    name = "typage"
    kinds: frozenset[Kind] = frozenset({"pq", "x25519"})

    def __init__(self, node: str, *, scrypt_work_factor: int) -> None:
        self.node = node
        self.scrypt_work_factor = scrypt_work_factor
        self._proc: subprocess.Popen[bytes] | None = None

    def close(self) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()  # end of input: the service exits
            self._proc.wait(timeout=SUBPROCESS_TIMEOUT)
            self._proc = None

    def _call(self, op: str, **fields: object) -> dict[str, str]:
        if self._proc is None:
            self._proc = subprocess.Popen(
                [self.node, str(JS_DIR / "typage.mjs")],
                cwd=JS_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._proc.stdin.write(json.dumps({"op": op, **fields}).encode() + b"\n")
        self._proc.stdin.flush()
        ready, _, _ = select.select([self._proc.stdout], [], [], SUBPROCESS_TIMEOUT)
        line = self._proc.stdout.readline() if ready else b""
        if not line:
            raise PeerError(f"typage {op}: no reply (exit status {self._proc.poll()})")
        reply = json.loads(line)
        if not reply.pop("ok"):
            raise PeerError(f"typage {op}: {reply['error']}")
        return {str(k): str(v) for k, v in reply.items()}

    def _file(self, op: str, data: bytes, **fields: object) -> bytes:
        return base64.b64decode(
            self._call(op, data=base64.b64encode(data).decode(), **fields)["data"]
        )

    def generate_identity(self, kind: Kind) -> str:
        return self._call("generate", kind=kind)["identity"]

    def recipient_of(self, identity: str) -> str:
        return self._call("recipient", identity=identity)["recipient"]

    def encrypt(self, plaintext: bytes, recipients: Sequence[str], *, armor: bool) -> bytes:
        return self._file("encrypt", plaintext, recipients=list(recipients), armor=armor)

    def decrypt(self, ciphertext: bytes, identities: Sequence[str]) -> bytes:
        return self._file("decrypt", ciphertext, identities=list(identities))

    def encrypt_passphrase(self, plaintext: bytes, passphrase: str, *, armor: bool) -> bytes:
        return self._file(
            "encrypt",
            plaintext,
            passphrase=passphrase,
            workFactor=self.scrypt_work_factor,
            armor=armor,
        )

    def decrypt_passphrase(self, ciphertext: bytes, passphrase: str) -> bytes:
        return self._file("decrypt", ciphertext, passphrase=passphrase)
