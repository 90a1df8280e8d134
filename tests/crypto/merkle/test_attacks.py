"""Attacks on proofs: each case is named after what an attacker would try, and must be rejected.

The named cases mutate real proofs from one tree; Hypothesis then mutates proofs of random trees
and feeds the verifiers arbitrary values, where only ProofError may escape.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.errors import ProofError
from crypto.merkle import verify_consistency, verify_inclusion
from crypto.merkle.memory import MemoryTree
from crypto.merkle.rfc6962 import EMPTY_ROOT, hash_leaf

MAX_SIZE = 1024
TREE = MemoryTree(hash_leaf(i.to_bytes(2, "big")) for i in range(MAX_SIZE))
GARBAGE = hash_leaf(b"garbage")


@dataclass(frozen=True)
class Inclusion:
    leaf_hash: bytes
    index: int
    tree_size: int
    proof: Sequence[bytes]
    root: bytes

    def verify(self) -> None:
        verify_inclusion(
            leaf_hash=self.leaf_hash,
            index=self.index,
            tree_size=self.tree_size,
            proof=self.proof,
            root=self.root,
        )


@dataclass(frozen=True)
class Consistency:
    size1: int
    size2: int
    proof: Sequence[bytes]
    root1: bytes
    root2: bytes

    def verify(self) -> None:
        verify_consistency(
            size1=self.size1, size2=self.size2, proof=self.proof, root1=self.root1, root2=self.root2
        )


def inclusion(index: int, tree_size: int) -> Inclusion:
    return Inclusion(
        leaf_hash=TREE.get_node(0, index),
        index=index,
        tree_size=tree_size,
        proof=TREE.inclusion_proof(index=index, tree_size=tree_size),
        root=TREE.root(tree_size),
    )


def consistency(size1: int, size2: int) -> Consistency:
    return Consistency(
        size1=size1,
        size2=size2,
        proof=TREE.consistency_proof(size1=size1, size2=size2),
        root1=TREE.root(size1),
        root2=TREE.root(size2),
    )


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


def proof_attacks(proof: Sequence[bytes]) -> dict[str, list[bytes]]:
    """Mutations of a proof, named as transparency-dev names them."""
    p = list(proof)
    attacks = {
        "truncated-proof": p[:-1],
        "extended-proof": [*p, GARBAGE],
        "preceding-garbage": [GARBAGE, *p],
        "trailing-garbage": [*p, GARBAGE],
        "empty-proof": [],
        "short-hash": [h[:31] for h in p],
        "long-hash": [h + b"\x00" for h in p],
    }
    for i, h in enumerate(p):
        attacks[f"modified-proof@{i}-bit-@4"] = [*p[:i], flip(h, 4), *p[i + 1 :]]
        attacks[f"removed-component@{i}"] = p[:i] + p[i + 1 :]
        attacks[f"inserted-component@{i}"] = [*p[:i], GARBAGE, *p[i:]]
    if len(p) > 1:
        attacks["swapped-components"] = [p[1], p[0], *p[2:]]
    return {name: mutated for name, mutated in attacks.items() if mutated != p}


def inclusion_attacks(good: Inclusion) -> dict[str, Inclusion]:
    attacks = {
        name: replace(good, proof=proof) for name, proof in proof_attacks(good.proof).items()
    }
    attacks |= {
        "leaf-index-plus-1": replace(good, index=good.index + 1),
        "leaf-index-minus-1": replace(good, index=good.index - 1),
        "leaf-index-XOR-2": replace(good, index=good.index ^ 2),
        "leaf-index-equals-tree-size": replace(good, index=good.tree_size),
        "negative-leaf-index": replace(good, index=-1),
        "tree-size-over-uint64": replace(good, tree_size=good.tree_size + (1 << 64)),
        "tree-size-doubled": replace(good, tree_size=good.tree_size * 2),
        "tree-size-halved": replace(good, tree_size=good.tree_size // 2),
        "wrong-leaf": replace(good, leaf_hash=GARBAGE),
        "modified-leaf-bit-@4": replace(good, leaf_hash=flip(good.leaf_hash, 4)),
        "leaf-data-as-leaf-hash": replace(good, leaf_hash=good.index.to_bytes(2, "big")),
        "random-root": replace(good, root=GARBAGE),
        "empty-root": replace(good, root=EMPTY_ROOT),
        "preceding-root": replace(good, proof=[good.root, *good.proof]),
        "trailing-root": replace(good, proof=[*good.proof, good.root]),
    }
    return attacks


def consistency_attacks(good: Consistency) -> dict[str, Consistency]:
    attacks = {
        name: replace(good, proof=proof) for name, proof in proof_attacks(good.proof).items()
    }
    attacks |= {
        "swapped-roots": replace(good, root1=good.root2, root2=good.root1),
        "wrong-root1": replace(good, root1=GARBAGE),
        "wrong-root2": replace(good, root2=GARBAGE),
        "modified-root1-bit-@4": replace(good, root1=flip(good.root1, 4)),
        "modified-root2-bit-@4": replace(good, root2=flip(good.root2, 4)),
        "size1-zero": replace(good, size1=0, root1=EMPTY_ROOT),
        "rollback": replace(good, size1=good.size2, size2=good.size1),
        "size2-over-uint64": replace(good, size2=good.size2 + (1 << 64)),
        "equal-sizes-with-proof": replace(good, size2=good.size1, root2=good.root1),
        "preceding-root1": replace(good, proof=[good.root1, *good.proof]),
        "trailing-root2": replace(good, proof=[*good.proof, good.root2]),
    }
    return attacks


def size_attacks(good: Consistency) -> dict[str, Consistency]:
    """A changed size1 changes the shape of the proof. A changed size2 may not: a proof binds
    the roots, and only the signed checkpoint binds a root to its size, so size2 is left out."""
    return {
        "size1-plus-1": replace(good, size1=good.size1 + 1),
        "size1-minus-1": replace(good, size1=good.size1 - 1),
    }


def _cases(attacks: dict[str, Callable[[], None]], where: str) -> list[object]:
    return [pytest.param(check, id=f"{name}-{where}") for name, check in attacks.items()]


INCLUSION_CASES = [
    case
    for index, size in [(0, 1), (5, 8), (2, 3), (13, 23), (511, 512), (700, 1000)]
    for case in _cases(
        {n: a.verify for n, a in inclusion_attacks(inclusion(index, size)).items()},
        f"{index}-in-{size}",
    )
]
CONSISTENCY_CASES = [
    case
    for size1, size2 in [(1, 8), (6, 8), (2, 5), (7, 23), (8, 23), (255, 1000)]
    for case in _cases(
        {
            n: a.verify
            for n, a in (
                consistency_attacks(consistency(size1, size2))
                | size_attacks(consistency(size1, size2))
            ).items()
        },
        f"{size1}-to-{size2}",
    )
]


@pytest.mark.parametrize("verify", INCLUSION_CASES)
def test_inclusion_attack_is_rejected(verify: Callable[[], None]) -> None:
    with pytest.raises(ProofError):
        verify()


@pytest.mark.parametrize("verify", CONSISTENCY_CASES)
def test_consistency_attack_is_rejected(verify: Callable[[], None]) -> None:
    with pytest.raises(ProofError):
        verify()


def test_the_unmutated_proofs_verify() -> None:
    inclusion(700, 1000).verify()
    consistency(255, 1000).verify()
    consistency(1000, 1000).verify()


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX_SIZE))
    return draw(st.integers(0, size - 1)), size


@given(index_and_size(), st.data())
def test_any_bit_flip_in_an_inclusion_proof_is_rejected(
    at: tuple[int, int], data: st.DataObject
) -> None:
    good = inclusion(*at)
    fields = ["leaf_hash", "root"] + (["proof"] if good.proof else [])
    field = data.draw(st.sampled_from(fields))
    bit = data.draw(st.integers(0, 255))
    if field == "proof":
        i = data.draw(st.integers(0, len(good.proof) - 1))
        bad = replace(good, proof=[*good.proof[:i], flip(good.proof[i], bit), *good.proof[i + 1 :]])
    elif field == "root":
        bad = replace(good, root=flip(good.root, bit))
    else:
        bad = replace(good, leaf_hash=flip(good.leaf_hash, bit))
    with pytest.raises(ProofError):
        bad.verify()


@given(index_and_size(), st.data())
def test_any_reshaped_inclusion_proof_is_rejected(at: tuple[int, int], data: st.DataObject) -> None:
    good = inclusion(*at)
    attacks = proof_attacks(good.proof)
    bad = replace(good, proof=attacks[data.draw(st.sampled_from(sorted(attacks)))])
    with pytest.raises(ProofError):
        bad.verify()


@given(st.integers(2, MAX_SIZE), st.data())
def test_any_mutated_consistency_proof_is_rejected(size2: int, data: st.DataObject) -> None:
    size1 = data.draw(st.integers(1, size2 - 1))
    good = consistency(size1, size2)
    attacks = consistency_attacks(good)
    name = data.draw(st.sampled_from(sorted(attacks)))
    with pytest.raises(ProofError):
        attacks[name].verify()


@given(
    leaf_hash=st.binary(max_size=40),
    index=st.integers(),
    tree_size=st.integers(),
    proof=st.lists(st.binary(max_size=40), max_size=70),
    root=st.binary(max_size=40),
)
def test_inclusion_verifier_only_raises_proof_error(
    leaf_hash: bytes, index: int, tree_size: int, proof: list[bytes], root: bytes
) -> None:
    try:
        verify_inclusion(
            leaf_hash=leaf_hash, index=index, tree_size=tree_size, proof=proof, root=root
        )
    except ProofError:
        return
    raise AssertionError("an arbitrary inclusion proof verified")


@given(
    size1=st.integers(),
    size2=st.integers(),
    proof=st.lists(st.binary(max_size=40), max_size=70),
    root1=st.binary(max_size=40),
    root2=st.binary(max_size=40),
)
def test_consistency_verifier_only_raises_proof_error(
    size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes
) -> None:
    try:
        verify_consistency(size1=size1, size2=size2, proof=proof, root1=root1, root2=root2)
    except ProofError:
        return
    # Equal sizes and equal roots with an empty proof is the one claim that needs no hashes.
    assert size1 == size2 > 0
    assert root1 == root2
    assert proof == []
