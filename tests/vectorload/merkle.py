"""The one loader of the Merkle and signed-note vectors under tests/vectors/merkle.

Every vector is decoded strictly: a missing or unknown field raises VectorError, so a vector
that changed shape fails its test loudly instead of being skipped or half-read.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent / "vectors" / "merkle"
TRANSPARENCY_DEV = ROOT / "transparency-dev"


class VectorError(Exception):
    """A vector file does not have the shape this loader knows."""


@dataclass(frozen=True)
class InclusionVector:
    leaf_index: int
    tree_size: int
    root: bytes
    leaf_hash: bytes
    proof: list[bytes]
    desc: str
    want_err: bool


@dataclass(frozen=True)
class ConsistencyVector:
    size1: int
    size2: int
    root1: bytes
    root2: bytes
    proof: list[bytes]
    desc: str
    want_err: bool


@dataclass(frozen=True)
class HasherVector:
    desc: str
    expected: bytes
    leaf: bytes | None = None
    left: bytes | None = None
    right: bytes | None = None


@dataclass(frozen=True)
class ReferenceTree:
    """The 8-leaf RFC 6962 tree; proofs reuse the transparency-dev vector classes."""

    hasher: list[HasherVector]
    leaf_inputs: list[bytes]
    nodes_by_level: list[list[bytes]]
    root_by_tree_size: dict[int, bytes]
    inclusion: list[InclusionVector]
    consistency: list[ConsistencyVector]


@dataclass(frozen=True)
class SignedNoteVector:
    vkey: str
    note_text: str
    signed_note: bytes
    key_name: str
    key_id: bytes
    public_key: bytes
    signature: bytes


def _fields(
    data: Any, required: set[str], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise VectorError(f"vector is {type(data).__name__}, want an object")
    missing = required - data.keys()
    unknown = data.keys() - required - optional
    if missing or unknown:
        raise VectorError(f"missing fields {sorted(missing)}, unknown fields {sorted(unknown)}")
    return data


def _b64(value: Any) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError) as e:
        raise VectorError(f"bad base64 {value!r}") from e


def _hex(value: Any) -> bytes:
    try:
        return bytes.fromhex(value)
    except (ValueError, TypeError) as e:
        raise VectorError(f"bad hex {value!r}") from e


def _b64_list(value: Any) -> list[bytes]:
    # In the Go JSON encoding a nil slice is null; both mean an empty proof.
    return [] if value is None else [_b64(h) for h in value]


def _read(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def read_inclusion(path: Path) -> InclusionVector:
    d = _fields(
        _read(path), {"leafIdx", "treeSize", "root", "leafHash", "proof", "desc", "wantErr"}
    )
    return InclusionVector(
        leaf_index=d["leafIdx"],
        tree_size=d["treeSize"],
        root=_b64(d["root"]),
        leaf_hash=_b64(d["leafHash"]),
        proof=_b64_list(d["proof"]),
        desc=d["desc"],
        want_err=d["wantErr"],
    )


def read_consistency(path: Path) -> ConsistencyVector:
    d = _fields(_read(path), {"size1", "size2", "root1", "root2", "proof", "desc", "wantErr"})
    return ConsistencyVector(
        size1=d["size1"],
        size2=d["size2"],
        root1=_b64(d["root1"]),
        root2=_b64(d["root2"]),
        proof=_b64_list(d["proof"]),
        desc=d["desc"],
        want_err=d["wantErr"],
    )


def _params(kind: str) -> list[Any]:
    paths = sorted((TRANSPARENCY_DEV / kind).rglob("*.json"))
    if not paths:
        raise VectorError(f"no {kind} vectors under {TRANSPARENCY_DEV}")
    # The id is the path below the kind: the file name says the attack, the folder the case.
    return [
        pytest.param(path, id=str(path.relative_to(TRANSPARENCY_DEV / kind).with_suffix("")))
        for path in paths
    ]


def inclusion_params() -> list[Any]:
    """pytest params of every transparency-dev inclusion vector path; decode with read_inclusion."""
    return _params("inclusion")


def consistency_params() -> list[Any]:
    """pytest params of every transparency-dev consistency vector path; decode with
    read_consistency."""
    return _params("consistency")


def _hasher_vector(data: Any) -> HasherVector:
    d = _fields(data, {"desc", "expected"}, frozenset({"leaf_hex", "left_hex", "right_hex"}))
    return HasherVector(
        desc=d["desc"],
        expected=_hex(d["expected"]),
        leaf=_hex(d["leaf_hex"]) if "leaf_hex" in d else None,
        left=_hex(d["left_hex"]) if "left_hex" in d else None,
        right=_hex(d["right_hex"]) if "right_hex" in d else None,
    )


def _reference_inclusion(data: Any) -> InclusionVector:
    d = _fields(data, {"leaf_index", "tree_size", "leaf_hash", "root", "proof"})
    return InclusionVector(
        leaf_index=d["leaf_index"],
        tree_size=d["tree_size"],
        root=_hex(d["root"]),
        leaf_hash=_hex(d["leaf_hash"]),
        proof=[_hex(h) for h in d["proof"]],
        desc=f"inclusion of {d['leaf_index']} in {d['tree_size']}",
        want_err=False,
    )


def _reference_consistency(data: Any) -> ConsistencyVector:
    d = _fields(data, {"size1", "size2", "root1", "root2", "proof"})
    return ConsistencyVector(
        size1=d["size1"],
        size2=d["size2"],
        root1=_hex(d["root1"]),
        root2=_hex(d["root2"]),
        proof=[_hex(h) for h in d["proof"]],
        desc=f"consistency of {d['size1']} with {d['size2']}",
        want_err=False,
    )


def reference_tree() -> ReferenceTree:
    d = _fields(
        _read(ROOT / "rfc6962_reference_8leaf.json"),
        {
            "description",
            "source",
            "hasher_vectors",
            "leaf_inputs_hex",
            "node_hashes_by_level",
            "root_by_tree_size",
            "inclusion_proofs",
            "consistency_proofs",
        },
    )
    return ReferenceTree(
        hasher=[_hasher_vector(v) for v in d["hasher_vectors"]],
        leaf_inputs=[_hex(x) for x in d["leaf_inputs_hex"]],
        nodes_by_level=[[_hex(h) for h in level] for level in d["node_hashes_by_level"]],
        root_by_tree_size={int(k): _hex(v) for k, v in d["root_by_tree_size"].items()},
        inclusion=[_reference_inclusion(v) for v in d["inclusion_proofs"]],
        consistency=[_reference_consistency(v) for v in d["consistency_proofs"]],
    )


def signed_note_example() -> SignedNoteVector:
    d = _fields(
        _read(ROOT / "signed_note_ed25519_example.json"),
        {
            "source",
            "vkey",
            "note_text",
            "signed_note",
            "key_name",
            "key_id_hex",
            "ed25519_public_key_hex",
            "signature_b64",
            "notes",
        },
    )
    return SignedNoteVector(
        vkey=d["vkey"],
        note_text=d["note_text"],
        signed_note=d["signed_note"].encode("utf-8"),
        key_name=d["key_name"],
        key_id=_hex(d["key_id_hex"]),
        public_key=_hex(d["ed25519_public_key_hex"]),
        signature=_b64(d["signature_b64"]),
    )
