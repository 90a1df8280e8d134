"""The transparency-dev proof vectors and the 8-leaf RFC 6962 reference tree.

Each transparency-dev file is a happy path or a named attack on it; `wantErr` must match.
"""

from collections.abc import Callable
from pathlib import Path

import pytest

from crypto.errors import ProofError
from crypto.merkle import verify_consistency, verify_inclusion
from crypto.merkle.memory import MemoryTree
from crypto.merkle.rfc6962 import hash_leaf
from tests.vectorload.merkle import (
    ConsistencyVector,
    InclusionVector,
    VectorError,
    consistency_params,
    inclusion_params,
    read_consistency,
    read_inclusion,
    reference_tree,
)

INCLUSION = inclusion_params()
CONSISTENCY = consistency_params()
REFERENCE = reference_tree()


def test_every_transparency_dev_vector_is_loaded() -> None:
    assert len(INCLUSION) + len(CONSISTENCY) == 196


def test_vector_with_unknown_field_fails_loudly(tmp_path: Path) -> None:
    source = INCLUSION[0].values[0]
    changed = tmp_path / "unknown-field.json"
    changed.write_text(source.read_text().replace('"desc"', '"surprise": 1, "desc"'))
    with pytest.raises(VectorError, match="surprise"):
        read_inclusion(changed)


def _check_inclusion(v: InclusionVector) -> None:
    verify_inclusion(
        leaf_hash=v.leaf_hash, index=v.leaf_index, tree_size=v.tree_size, proof=v.proof, root=v.root
    )


def _check_consistency(v: ConsistencyVector) -> None:
    verify_consistency(size1=v.size1, size2=v.size2, proof=v.proof, root1=v.root1, root2=v.root2)


def _expect(want_err: bool, check: Callable[[], None]) -> None:
    if want_err:
        with pytest.raises(ProofError):
            check()
    else:
        check()


@pytest.mark.parametrize("path", INCLUSION)
def test_transparency_dev_inclusion(path: Path) -> None:
    v = read_inclusion(path)
    _expect(v.want_err, lambda: _check_inclusion(v))


@pytest.mark.parametrize("path", CONSISTENCY)
def test_transparency_dev_consistency(path: Path) -> None:
    v = read_consistency(path)
    _expect(v.want_err, lambda: _check_consistency(v))


def _reference() -> MemoryTree:
    return MemoryTree(hash_leaf(leaf) for leaf in REFERENCE.leaf_inputs)


def test_reference_nodes() -> None:
    tree = _reference()
    for level, hashes in enumerate(REFERENCE.nodes_by_level):
        assert [tree.get_node(level, i) for i in range(len(hashes))] == hashes


@pytest.mark.parametrize(("size", "root"), sorted(REFERENCE.root_by_tree_size.items()))
def test_reference_root(size: int, root: bytes) -> None:
    assert _reference().root(size) == root


@pytest.mark.parametrize("v", REFERENCE.inclusion, ids=lambda v: v.desc)
def test_reference_inclusion(v: InclusionVector) -> None:
    assert _reference().inclusion_proof(index=v.leaf_index, tree_size=v.tree_size) == v.proof
    _check_inclusion(v)


@pytest.mark.parametrize("v", REFERENCE.consistency, ids=lambda v: v.desc)
def test_reference_consistency(v: ConsistencyVector) -> None:
    assert _reference().consistency_proof(size1=v.size1, size2=v.size2) == v.proof
    _check_consistency(v)
