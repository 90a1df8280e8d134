"""Verification of inclusion and consistency proofs (RFC 9162 sections 2.1.3.2 and 2.1.4.2).

The policy is transparency-dev/merkle's, stricter than the RFC's letter: sizes are uint64; a
leaf hash and every proof hash is exactly HASH_SIZE bytes; a proof has exactly the length its
sizes imply; a consistency proof from size 0 proves nothing and is rejected; equal sizes need an
empty proof and equal roots. Both verifiers are pure: they return None or raise ProofError, whose
fixed message says which check failed.

The proof of leaf `index` in a tree of `tree_size` splits where the paths to `index` and to the
last leaf `tree_size - 1` diverge: below that level ("inner") the siblings sit on either side
according to the bits of `index`; above it ("border") the path runs along the right edge, so
every sibling is a left one and levels without a sibling are skipped.
"""

from collections.abc import Sequence

from crypto.errors import ProofError
from crypto.merkle.rfc6962 import HASH_SIZE, MAX_TREE_SIZE, hash_children


def verify_inclusion(
    *, leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `leaf_hash` is the leaf at `index` of the tree of `tree_size` with `root`.

    Raises ProofError if it is not, or if the arguments cannot describe a valid proof.
    """
    if (
        root_from_inclusion_proof(
            leaf_hash=leaf_hash, index=index, tree_size=tree_size, proof=proof
        )
        != root
    ):
        raise ProofError("inclusion proof does not lead to the expected root")


def root_from_inclusion_proof(
    *, leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """Return the root that `proof` implies for `leaf_hash` at `index` in a tree of `tree_size`.

    Raises ProofError if the index, sizes or lengths cannot form a valid proof.
    """
    if not 0 <= index < tree_size <= MAX_TREE_SIZE:
        raise ProofError("leaf index is outside the tree")
    if len(leaf_hash) != HASH_SIZE:
        raise ProofError("leaf hash has the wrong length")
    inner, border = _decompose(index, tree_size)
    _check_proof(proof, inner + border)
    seed = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border(seed, proof[inner:])


def verify_consistency(
    *, size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of `size2` with `root2` extends the tree of `size1` with `root1`.

    Raises ProofError if it does not, or if the arguments cannot describe a valid proof.
    """
    if size1 <= 0:
        # Every tree extends the empty one; a "proof" of that is meaningless.
        raise ProofError("no consistency proof exists from an empty tree")
    if size2 < size1:
        raise ProofError("second tree is smaller than the first")
    if size2 > MAX_TREE_SIZE:
        raise ProofError("tree size is out of range")
    if size1 == size2:
        _check_proof(proof, 0)
        if root1 != root2:
            raise ProofError("trees of equal size have different roots")
        return

    # The proof is the inclusion proof of the largest complete subtree ending at size1, whose
    # root (the seed) is sent first unless size1 is that very subtree, hence already root1.
    inner, border = _decompose(size1 - 1, size2)
    shift = _trailing_zeros(size1)
    inner -= shift
    if size1 == 1 << shift:
        seed, path = root1, proof
        _check_proof(path, inner + border)
    else:
        _check_proof(proof, 1 + inner + border)
        seed, path = proof[0], proof[1:]

    mask = (size1 - 1) >> shift
    # root1 uses only the left siblings; root2 uses all of them (RFC 9162 section 2.1.4.2).
    hash1 = _chain_border(_chain_inner_right(seed, path[:inner], mask), path[inner:])
    if hash1 != root1:
        raise ProofError("consistency proof does not lead to the first root")
    hash2 = _chain_border(_chain_inner(seed, path[:inner], mask), path[inner:])
    if hash2 != root2:
        raise ProofError("consistency proof does not lead to the second root")


def _decompose(index: int, tree_size: int) -> tuple[int, int]:
    """Return the lengths of the inner and border parts of the inclusion proof of `index`."""
    inner = (index ^ (tree_size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _trailing_zeros(n: int) -> int:
    return (n & -n).bit_length() - 1


def _check_proof(proof: Sequence[bytes], want: int) -> None:
    if len(proof) != want:
        raise ProofError("proof has the wrong number of hashes")
    for node in proof:
        if len(node) != HASH_SIZE:
            raise ProofError("proof hash has the wrong length")


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for level, sibling in enumerate(proof):
        is_right = (index >> level) & 1
        seed = hash_children(sibling, seed) if is_right else hash_children(seed, sibling)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for level, sibling in enumerate(proof):
        if (index >> level) & 1:
            seed = hash_children(sibling, seed)
    return seed


def _chain_border(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for sibling in proof:
        seed = hash_children(sibling, seed)
    return seed
