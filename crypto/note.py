"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures.

A signed note is a text ending in a newline, a blank line, then signature lines
`— <key name> <base64(key ID || signature)>`. A key is known by its name and 32-bit key ID
together; signatures by unknown keys are kept but not trusted, so that witness cosignatures
can travel with a checkpoint before this code knows the witnesses.

Keys are written as the Go `golang.org/x/mod/sumdb/note` tooling writes them:
verifier key `<name>+<hex key ID>+<base64(0x01 || public key)>`, signer key
`PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || private seed)>`.

Parsing and verifying is one step, `open_note`, because the text MUST be ignored unless a
trusted key signed it. Malformed or untrusted notes raise ProofError; malformed key strings
raise KeyFormatError.
"""

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from crypto.errors import KeyFormatError, ProofError

ED25519 = 0x01
"""The signature type byte of Ed25519 (signed-note, "Signature types")."""

SIGNATURE_PREFIX = "\u2014 "
"""Em dash and space: how every signature line begins."""

SIGNER_KEY_PREFIX = "PRIVATE+KEY+"

MAX_SIGNATURES = 100
"""The spec requires accepting at least 16; Go's note package stops at 100."""

MAX_NOTE_SIZE = 1 << 20
"""A bound on a whole signed note, so parsing stays cheap whatever is sent."""

_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}")
_ED25519_KEY_SIZE = 32


def valid_name(name: str) -> bool:
    """Report whether `name` may name a key: non-empty, with no Unicode space and no '+'.

    Control characters and unpaired surrogates are refused too: no valid note could hold them.
    """
    return (
        bool(name)
        and "+" not in name
        and not any(c.isspace() or c < " " for c in name)
        and _encodable(name)
    )


def key_id(name: str, public_key: bytes) -> int:
    """Return the Ed25519 key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4], big-endian."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True, slots=True)
class Verifier:
    """A trusted Ed25519 key: its name, key ID and 32-byte public key."""

    name: str
    key_id: int
    public_key: bytes

    @property
    def vkey(self) -> str:
        """The verifier key string: `<name>+<hex key ID>+<base64(0x01 || public key)>`."""
        key = base64.b64encode(bytes([ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{key}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Report whether `signature` is this key's Ed25519 signature of `text`."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except InvalidSignature:
            return False
        return True


class Signer:
    """An Ed25519 signing key with its name. Holds a secret: never log or print it."""

    __slots__ = ("_private_key", "name", "verifier")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        """Raises KeyFormatError if `name` is not a valid key name."""
        if not valid_name(name):
            raise KeyFormatError("invalid key name")
        public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.name = name
        self.verifier = Verifier(name, key_id(name, public), public)
        self._private_key = private_key

    @classmethod
    def generate(cls, name: str) -> "Signer":
        """Return a new random key named `name`."""
        return cls(name, Ed25519PrivateKey.generate())

    @property
    def key_id(self) -> int:
        return self.verifier.key_id

    @property
    def skey(self) -> str:
        """The secret signer key string: `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01||seed)>`."""
        seed = self._private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        key = base64.b64encode(bytes([ED25519]) + seed).decode()
        return f"{SIGNER_KEY_PREFIX}{self.name}+{self.key_id:08x}+{key}"

    def sign(self, text: bytes) -> bytes:
        """Return the Ed25519 signature of `text`."""
        return self._private_key.sign(text)


def parse_verifier_key(vkey: str) -> Verifier:
    """Parse `<name>+<hex key ID>+<base64(0x01 || public key)>`.

    Raises KeyFormatError if it is malformed, not Ed25519, or its key ID does not match.
    """
    name, hex_id, public = _parse_key(vkey)
    try:
        Ed25519PublicKey.from_public_bytes(public)
    except ValueError:
        raise KeyFormatError("malformed key") from None
    verifier = Verifier(name, key_id(name, public), public)
    if f"{verifier.key_id:08x}" != hex_id:
        raise KeyFormatError("key ID does not match the key")
    return verifier


def parse_signer_key(skey: str) -> Signer:
    """Parse `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`.

    Raises KeyFormatError if it is malformed, not Ed25519, or its key ID does not match.
    """
    if not skey.startswith(SIGNER_KEY_PREFIX):
        raise KeyFormatError("not a signer key")
    name, hex_id, seed = _parse_key(skey.removeprefix(SIGNER_KEY_PREFIX))
    signer = Signer(name, Ed25519PrivateKey.from_private_bytes(seed))
    # The key ID is that of the public key, so it checks that the seed was not altered.
    if f"{signer.key_id:08x}" != hex_id:
        raise KeyFormatError("key ID does not match the key")
    return signer


def _parse_key(text: str) -> tuple[str, str, bytes]:
    """Split `<name>+<hex key ID>+<base64(0x01 || 32-byte key)>` into its three parts."""
    # The name holds no '+', the key ID neither; base64 may.
    parts = text.split("+", 2)
    if len(parts) != 3 or not valid_name(parts[0]) or not _HEX_KEY_ID.fullmatch(parts[1]):
        raise KeyFormatError("malformed key")
    key = _strict_b64decode(parts[2])
    if key is None or len(key) != 1 + _ED25519_KEY_SIZE or key[0] != ED25519:
        raise KeyFormatError("malformed or unsupported key")
    return parts[0], parts[1], key[1:]


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line: the key name, the key ID and the signature bytes after the ID."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        encoded = base64.b64encode(self.key_id.to_bytes(4, "big") + self.signature).decode()
        return f"{SIGNATURE_PREFIX}{self.name} {encoded}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """An opened note: its text, the signatures that verified, and those by unknown keys."""

    text: str
    signatures: tuple[Signature, ...]
    unverified: tuple[Signature, ...]


def sign_note(text: str, signers: Sequence[Signer]) -> bytes:
    """Return `text` signed by every signer, as a signed note.

    Raises ValueError if the text does not end in a newline or holds a control character,
    or if there is no signer.
    """
    return add_signatures(Note(text, (), ()), signers)


def add_signatures(note: Note, signers: Sequence[Signer]) -> bytes:
    """Return the note with its signatures (verified, then unverified) and new ones from
    `signers` after them; an old signature by the same key as a new one is dropped.

    This is how a cosignature is added, or a witness's cosignature carried along.
    Raises ValueError as sign_note does.
    """
    if not signers:
        raise ValueError("a signed note needs at least one signature")
    if not _valid_text(note.text):
        raise ValueError("note text must end in a newline and hold no control character")
    data = note.text.encode()
    new = [Signature(s.name, s.key_id, s.sign(data)) for s in signers]
    replaced = {(s.name, s.key_id) for s in new}
    kept = [s for s in note.signatures + note.unverified if (s.name, s.key_id) not in replaced]
    return (note.text + "\n" + "".join(s.line() for s in kept + new)).encode()


def open_note(message: bytes, verifiers: Iterable[Verifier]) -> Note:
    """Parse a signed note strictly and verify it against the trusted `verifiers`.

    Signatures by keys not among `verifiers` (name and key ID both matching) are returned as
    unverified, never trusted. Raises ProofError if the note is malformed, if a signature by a
    known key does not verify or repeats, or if no known key signed it.
    """
    text, lines = _split(message)
    known = {(v.name, v.key_id): v for v in verifiers}
    data = text.encode()
    verified: dict[tuple[str, int], Signature] = {}
    unverified: dict[tuple[str, int, bytes], Signature] = {}
    for line in lines:
        sig = _parse_signature_line(line)
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            # Identical copies of an unknown signature are kept once.
            unverified.setdefault((sig.name, sig.key_id, sig.signature), sig)
            continue
        if (sig.name, sig.key_id) in verified:
            raise ProofError("a known key signed the note twice")
        if not verifier.verify(data, sig.signature):
            raise ProofError("a signature by a known key does not verify")
        verified[sig.name, sig.key_id] = sig
    if not verified:
        raise ProofError("no known key signed the note")
    return Note(text, tuple(verified.values()), tuple(unverified.values()))


def _split(message: bytes) -> tuple[str, list[str]]:
    """Return the text and the signature lines (without newlines) of a well-formed note."""
    if len(message) > MAX_NOTE_SIZE:
        raise ProofError("signed note is too large")
    try:
        decoded = message.decode("utf-8")
    except UnicodeDecodeError:
        raise ProofError("signed note is not UTF-8") from None
    if not _valid_text(decoded):
        raise ProofError("malformed signed note")
    # The text is separated from the signatures by the last blank line.
    split = decoded.rfind("\n\n")
    if split < 0:
        raise ProofError("malformed signed note")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    if not block:
        raise ProofError("signed note has no signature")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise ProofError("signed note has too many signatures")
    return text, lines


def _parse_signature_line(line: str) -> Signature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise ProofError("malformed signature line")
    name, space, encoded = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
    raw = _strict_b64decode(encoded)
    if not space or not valid_name(name) or raw is None or len(raw) < 5:
        raise ProofError("malformed signature line")
    return Signature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def _valid_text(text: str) -> bool:
    """Ends in a newline and holds no control character but newline (signed-note, "Format")."""
    return text.endswith("\n") and all(c >= " " or c == "\n" for c in text) and _encodable(text)


def _encodable(text: str) -> bool:
    """Report whether `text` is valid UTF-8 once encoded (no unpaired surrogate)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _strict_b64decode(encoded: str) -> bytes | None:
    """Decode standard padded base64 only in its one canonical spelling, else None."""
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode() == encoded else None
