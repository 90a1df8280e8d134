"""The hasher against the known answers of the 8-leaf reference vectors."""

import pytest

from crypto.merkle.rfc6962 import EMPTY_ROOT, hash_children, hash_leaf
from tests.vectorload.merkle import HasherVector, reference_tree

HASHER = reference_tree().hasher


@pytest.mark.parametrize("vector", HASHER, ids=[v.desc for v in HASHER])
def test_hasher_known_answer(vector: HasherVector) -> None:
    if vector.leaf is not None:
        assert hash_leaf(vector.leaf) == vector.expected
    elif vector.left is not None and vector.right is not None:
        assert hash_children(vector.left, vector.right) == vector.expected
    else:
        assert vector.expected == EMPTY_ROOT


def test_leaf_and_node_are_domain_separated() -> None:
    # second-preimage: a node's children, presented as one leaf, must not hash to the node
    left, right = hash_leaf(b"a"), hash_leaf(b"b")
    assert hash_leaf(left + right) != hash_children(left, right)
