"""C2SP transparency log checkpoints (c2sp.org/tlog-checkpoint): a tree head as a signed note.

The note text is the origin line, the tree size in decimal, the base64 root hash, then
optional extension lines, each ending in a newline. A checkpoint is trusted only once the log's
own key has signed it; cosignatures by other known keys (witnesses) may verify too, and
signatures by unknown keys are carried, not trusted (crypto.note).
"""

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

from crypto.errors import ProofError
from crypto.merkle.rfc6962 import HASH_SIZE, MAX_TREE_SIZE
from crypto.note import Note, Signer, Verifier, open_note, sign_note

# ASCII decimal with no leading zero (tlog-checkpoint, "Note text", item 2).
_TREE_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: which log (`origin`), how many leaves, and the root hash.

    Construction raises ValueError unless the fields make a valid checkpoint text.
    """

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem:
            raise ValueError(problem)

    def text(self) -> str:
        """Return the note text, final newline included."""
        root = base64.b64encode(self.root_hash).decode()
        lines = [self.origin, str(self.tree_size), root, *self.extensions]
        return "".join(line + "\n" for line in lines)


def _problem(checkpoint: Checkpoint) -> str | None:
    """Say what makes the checkpoint invalid, or return None."""
    if not 0 <= checkpoint.tree_size <= MAX_TREE_SIZE:
        return "tree size is out of range"
    if len(checkpoint.root_hash) != HASH_SIZE:
        return "root hash has the wrong length"
    for line in (checkpoint.origin, *checkpoint.extensions):
        # Every line is non-empty, and a control character would not survive the note.
        if not line or any(c < " " for c in line):
            return "origin and extension lines must be non-empty lines of text"
    return None


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint note text strictly. Raises ProofError if it is malformed.

    The text is only meaningful once its signature is verified: use open_checkpoint.
    """
    if not text.endswith("\n"):
        raise ProofError("malformed checkpoint")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not _TREE_SIZE.fullmatch(lines[1]):
        raise ProofError("malformed checkpoint")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except ValueError:
        raise ProofError("malformed checkpoint") from None
    if base64.b64encode(root).decode() != lines[2]:
        raise ProofError("malformed checkpoint")
    try:
        return Checkpoint(lines[0], int(lines[1]), root, tuple(lines[3:]))
    except ValueError:
        raise ProofError("malformed checkpoint") from None


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> bytes:
    """Return the checkpoint as a note signed by the log's `signer`."""
    return sign_note(checkpoint.text(), [signer])


def open_checkpoint(
    message: bytes, *, origin: str, log: Verifier, witnesses: Sequence[Verifier] = ()
) -> tuple[Checkpoint, Note]:
    """Verify a signed checkpoint of the log `origin` and return it with its opened note.

    The log's own key must have signed it; every signature by `log` or a known witness must
    verify. Raises ProofError if the note or checkpoint is malformed, a signature fails, the
    log did not sign it, or it is for another log.
    """
    note = open_note(message, [log, *witnesses])
    if not any(s.name == log.name and s.key_id == log.key_id for s in note.signatures):
        raise ProofError("the log key did not sign the checkpoint")
    checkpoint = parse_checkpoint(note.text)
    if checkpoint.origin != origin:
        raise ProofError("checkpoint is for another log")
    return checkpoint, note
