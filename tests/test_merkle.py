"""The Merkle tree: roots, inclusion, consistency and range proofs.

Every result is checked against ``mth``, a direct transcription of the RFC 6962
definition (recursive, over the whole list), and every proof must stop
verifying when any of its parts changes.
"""

from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linoss_dynamics import merkle
from linoss_dynamics.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    range_proof,
    root_from_range,
    verify_consistency,
    verify_inclusion,
)


def H(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, as written: the tree hash of a list of leaf data."""
    n = len(leaves)
    if n == 0:
        return H(b"")
    if n == 1:
        return H(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return H(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def data_of(n: int) -> list[bytes]:
    return [f"event {i}".encode() * (i % 3 + 1) for i in range(n)]


def tree_of(data: list[bytes]) -> MerkleTree:
    tree = MerkleTree()
    for item in data:
        tree.append(item)
    return tree


sizes = st.integers(min_value=1, max_value=70)


def flip(digest: bytes, bit: int) -> bytes:
    changed = bytearray(digest)
    changed[bit // 8 % len(digest)] ^= 1 << (bit % 8)
    return bytes(changed)


class TestHashes:
    def test_leaf_and_node_have_distinct_prefixes(self):
        assert leaf_hash(b"ab") == H(b"\x00ab")
        assert node_hash(b"a", b"b") == H(b"\x01ab")
        assert leaf_hash(b"\x01ab"[1:]) != node_hash(b"a", b"b")

    def test_empty_root_is_the_hash_of_nothing(self):
        assert MerkleTree().root() == EMPTY_ROOT == H(b"")

    def test_known_root_of_two_leaves(self):
        # Pinned: a change of hash, prefix or split breaks every sealed log.
        root = tree_of([b"a", b"b"]).root()

        assert root.hex() == H(b"\x01" + H(b"\x00a") + H(b"\x00b")).hex()
        assert merkle.HASH_NAME == "blake2b-256"


class TestTree:
    @given(sizes)
    def test_root_is_the_rfc_tree_hash(self, n):
        data = data_of(n)

        assert tree_of(data).root() == mth(data)

    @given(sizes, st.data())
    def test_stretches_appended_in_order_give_the_root(self, n, draw):
        data = data_of(n)
        cuts = sorted(draw.draw(st.lists(st.integers(0, n), max_size=5, unique=True)))
        bounds = [0, *cuts, n]
        whole = MerkleTree()

        for lo, hi in itertools.pairwise(bounds):
            part = MerkleTree(lo)
            for item in data[lo:hi]:
                part.append(item)
            assert part.size == hi - lo
            whole.extend(part.blocks())

        assert whole.size == n
        assert whole.root() == mth(data)

    def test_root_with_leaves_the_tree_as_it_was(self):
        data = data_of(9)
        head = tree_of(data[:5])
        tail = MerkleTree(5)
        for item in data[5:]:
            tail.append(item)

        assert head.root_with(tail.blocks()) == mth(data)
        assert head.root() == mth(data[:5])

    def test_a_stretch_has_no_root(self):
        with pytest.raises(ValueError, match="leaf 0"):
            MerkleTree(3).root()


class TestInclusion:
    @given(sizes, st.data())
    @settings(max_examples=200)
    def test_every_leaf_has_a_proof_that_verifies(self, n, draw):
        data = data_of(n)
        index = draw.draw(st.integers(0, n - 1))
        root = mth(data)
        leaves = [leaf_hash(d) for d in data]

        proof = inclusion_proof(iter(leaves), index, n)

        assert verify_inclusion(leaves[index], index, n, proof, root)
        assert len(proof) <= max(n - 1, 0).bit_length()

    @given(sizes, st.data())
    def test_any_change_is_rejected(self, n, draw):
        data = data_of(n)
        index = draw.draw(st.integers(0, n - 1))
        root = mth(data)
        leaves = [leaf_hash(d) for d in data]
        proof = inclusion_proof(iter(leaves), index, n)
        bit = draw.draw(st.integers(0, 255))

        assert not verify_inclusion(flip(leaves[index], bit), index, n, proof, root)
        assert not verify_inclusion(leaves[index], index, n, proof, flip(root, bit))
        for i in range(len(proof)):
            changed = [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
            assert not verify_inclusion(leaves[index], index, n, changed, root)
        if index + 1 < n:
            assert not verify_inclusion(leaves[index], index + 1, n, proof, root)
        # The tree size is bound by the sealed (size, root) pair, not by the
        # path: leaf 0 has the same path in trees of 3 and 4 leaves.
        assert not verify_inclusion(leaves[index], index, n, [*proof, root], root)
        if proof:
            assert not verify_inclusion(leaves[index], index, n, proof[:-1], root)

    def test_a_leaf_outside_the_tree_has_no_proof(self):
        with pytest.raises(ValueError, match="not in a tree of 4"):
            inclusion_proof(iter([]), 4, 4)

        assert not verify_inclusion(leaf_hash(b"x"), 4, 4, [], EMPTY_ROOT)

    def test_too_few_leaves_for_the_proof(self):
        leaves = [leaf_hash(d) for d in data_of(3)]

        with pytest.raises(ValueError, match="leaves end after 3"):
            inclusion_proof(iter(leaves), 0, 8)

    def test_proofs_stay_logarithmic_at_a_million_leaves(self):
        n = 1_000_000
        leaves = (leaf_hash(i.to_bytes(4, "little")) for i in range(n))

        proof = inclusion_proof(leaves, 812_331, n)

        assert len(proof) == 20  # ceil(log2(10**6))
        leaf = leaf_hash((812_331).to_bytes(4, "little"))
        tree = MerkleTree()
        for i in range(n):
            tree.append(i.to_bytes(4, "little"))
        assert verify_inclusion(leaf, 812_331, n, proof, tree.root())


class TestConsistency:
    @given(sizes, st.data())
    @settings(max_examples=200)
    def test_every_prefix_is_consistent(self, n, draw):
        data = data_of(n)
        old = draw.draw(st.integers(1, n))
        leaves = [leaf_hash(d) for d in data]

        proof = consistency_proof(iter(leaves), old, n)

        assert verify_consistency(old, n, mth(data[:old]), mth(data), proof)

    @given(st.integers(2, 70), st.data())
    def test_any_change_is_rejected(self, n, draw):
        data = data_of(n)
        old = draw.draw(st.integers(1, n - 1))
        leaves = [leaf_hash(d) for d in data]
        proof = consistency_proof(iter(leaves), old, n)
        old_root, new_root = mth(data[:old]), mth(data)
        bit = draw.draw(st.integers(0, 255))

        assert not verify_consistency(old, n, flip(old_root, bit), new_root, proof)
        assert not verify_consistency(old, n, old_root, flip(new_root, bit), proof)
        for i in range(len(proof)):
            changed = [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
            assert not verify_consistency(old, n, old_root, new_root, changed)
        assert not verify_consistency(old, n, old_root, new_root, proof[:-1])

    def test_a_rewritten_prefix_is_not_consistent(self):
        data = data_of(12)
        forged = [*data[:3], b"forged", *data[4:]]
        leaves = [leaf_hash(d) for d in forged]

        proof = consistency_proof(iter(leaves), 7, 12)

        assert not verify_consistency(7, 12, mth(data[:7]), mth(forged), proof)

    def test_sizes_must_grow(self):
        with pytest.raises(ValueError, match="0 < old <= new"):
            consistency_proof(iter([]), 0, 3)

        assert not verify_consistency(5, 3, EMPTY_ROOT, EMPTY_ROOT, [])
        assert verify_consistency(3, 3, b"r", b"r", [])
        assert not verify_consistency(3, 3, b"r", b"s", [])


class TestRange:
    @given(sizes, st.data())
    @settings(max_examples=200)
    def test_a_range_and_its_proof_give_the_root(self, n, draw):
        data = data_of(n)
        first = draw.draw(st.integers(0, n - 1))
        last = draw.draw(st.integers(first + 1, n))
        leaves = [leaf_hash(d) for d in data]

        proof = range_proof(iter(leaves), first, last, n)

        assert root_from_range(leaves[first:last], first, n, proof) == mth(data)
        assert len(proof) <= 2 * n.bit_length()

    @given(st.integers(2, 70), st.data())
    def test_a_changed_leaf_or_proof_changes_the_root(self, n, draw):
        data = data_of(n)
        first = draw.draw(st.integers(0, n - 1))
        last = draw.draw(st.integers(first + 1, n))
        leaves = [leaf_hash(d) for d in data]
        proof = range_proof(iter(leaves), first, last, n)
        root = mth(data)
        bit = draw.draw(st.integers(0, 255))
        at = draw.draw(st.integers(first, last - 1))
        changed_leaves = list(leaves[first:last])
        changed_leaves[at - first] = flip(changed_leaves[at - first], bit)

        assert root_from_range(changed_leaves, first, n, proof) != root
        for i in range(len(proof)):
            changed = [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
            assert root_from_range(leaves[first:last], first, n, changed) != root
        if proof:
            assert root_from_range(leaves[first:last], first, n, proof[:-1]) is None

    def test_bad_ranges(self):
        with pytest.raises(ValueError, match="first < last"):
            range_proof(iter([]), 3, 3, 5)

        assert root_from_range([], 0, 5, []) is None
        assert root_from_range([b"x"] * 3, 4, 5, []) is None
