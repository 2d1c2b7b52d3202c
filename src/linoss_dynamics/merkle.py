"""Merkle trees over the events of a log: roots, inclusion and consistency proofs.

The tree is the one of RFC 6962 and RFC 9162 (section 2.1), with BLAKE2b-256 as
its hash: leaf ``i`` is the canonical body of event ``seq = i`` and

    leaf hash   = H(0x00 || body)
    node hash   = H(0x01 || left || right)
    MTH([])     = H()
    MTH(D[n])   = H(0x01 || MTH(D[0:k]) || MTH(D[k:n])),  k the largest power of
                  two below n

The leaves are the event bodies themselves, not their xxh3 chain digests:
xxh3 is not collision resistant, so a tree over its digests would commit to
nothing a forger could not match. The distinct leaf and node prefixes keep a
leaf from passing for an inner node (second-preimage attacks on the tree). BLAKE2b comes from the standard library;
unlike the xxh3 digests of the chain it is a cryptographic hash, so the root
commits to every event body.

``MerkleTree`` is the compact form the recorder and the verifier keep: the
roots of the perfect subtrees that make up the leaves so far, O(log n) of them.
A tree may also start at a leaf other than 0, holding the aligned perfect
subtrees of one stretch of a log; such stretches, appended in order to a tree
that starts at 0, give the root of the whole (see ``MerkleTree.extend``).

Proofs are computed from a stream of leaf hashes in one pass and O(log n)
memory: every proof is a list of roots of disjoint ranges of leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Final

__all__ = [
    "EMPTY_ROOT",
    "HASH_NAME",
    "HASH_SIZE",
    "MerkleTree",
    "consistency_proof",
    "consistency_ranges",
    "inclusion_proof",
    "inclusion_ranges",
    "leaf_hash",
    "node_hash",
    "range_proof",
    "range_roots",
    "root_from_range",
    "verify_consistency",
    "verify_inclusion",
]

HASH_NAME: Final = "blake2b-256"
HASH_SIZE: Final = 32
EMPTY_ROOT: Final = hashlib.blake2b(b"", digest_size=HASH_SIZE).digest()

_LEAF: Final = b"\x00"
_NODE: Final = b"\x01"
_blake2b = hashlib.blake2b


def leaf_hash(data: bytes) -> bytes:
    """The hash of one leaf: ``H(0x00 || data)``."""
    return _blake2b(_LEAF + data, digest_size=HASH_SIZE).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node: ``H(0x01 || left || right)``."""
    return _blake2b(_NODE + left + right, digest_size=HASH_SIZE).digest()


def _split(n: int) -> int:
    """The largest power of two below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """The roots of the perfect subtrees over leaves ``start`` to ``end - 1``.

    With ``start = 0`` this is the whole tree so far and ``root()`` is its
    RFC 6962 root. With another start it holds the largest aligned perfect
    subtrees of that stretch of leaves: ``blocks()`` hands them to ``extend`` of
    the tree that covers the leaves before them.
    """

    __slots__ = ("_hashes", "_sizes", "end", "start")

    def __init__(self, start: int = 0) -> None:
        self.start = start
        self.end = start
        self._sizes: list[int] = []
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        """Leaves in the tree (``end - start``)."""
        return self.end - self.start

    def append(self, data: bytes) -> None:
        """Add the leaf holding ``data`` (an event body).

        ``append_block(1, leaf_hash(data))``, written out: it runs once per
        recorded and per verified event.
        """
        digest = _blake2b(_LEAF + data, digest_size=HASH_SIZE).digest()
        sizes = self._sizes
        hashes = self._hashes
        end = self.end + 1
        size = 1
        while sizes and sizes[-1] == size and end % (size << 1) == 0:
            digest = _blake2b(
                _NODE + hashes.pop() + digest, digest_size=HASH_SIZE
            ).digest()
            sizes.pop()
            size <<= 1
        sizes.append(size)
        hashes.append(digest)
        self.end = end

    def append_block(self, size: int, digest: bytes) -> None:
        """Add a perfect subtree of ``size`` leaves (a power of two) with root
        ``digest``, starting at leaf ``end``, which ``size`` must divide."""
        sizes = self._sizes
        hashes = self._hashes
        end = self.end + size
        # Merge while the block below is as large and the merged block is
        # aligned: then the two are the halves of one subtree of the tree.
        while sizes and sizes[-1] == size and end % (size << 1) == 0:
            digest = _blake2b(
                _NODE + hashes.pop() + digest, digest_size=HASH_SIZE
            ).digest()
            sizes.pop()
            size <<= 1
        sizes.append(size)
        hashes.append(digest)
        self.end = end

    def blocks(self) -> list[tuple[int, bytes]]:
        """``(size, root)`` of each perfect subtree, in leaf order."""
        return list(zip(self._sizes, self._hashes, strict=True))

    def extend(self, blocks: Iterable[tuple[int, bytes]]) -> None:
        """Append the ``blocks()`` of the tree of the leaves that follow."""
        for size, digest in blocks:
            self.append_block(size, digest)

    def root(self) -> bytes:
        """The RFC 6962 root of the leaves (of a tree that starts at leaf 0)."""
        if self.start != 0:
            raise ValueError("only a tree that starts at leaf 0 has a root")
        hashes = self._hashes
        if not hashes:
            return EMPTY_ROOT
        digest = hashes[-1]
        for left in reversed(hashes[:-1]):
            digest = node_hash(left, digest)
        return digest

    def root_with(self, blocks: Iterable[tuple[int, bytes]]) -> bytes:
        """The root of this tree extended by ``blocks``, this tree unchanged."""
        tree = self.copy()
        tree.extend(blocks)
        return tree.root()

    def copy(self) -> MerkleTree:
        tree = MerkleTree(self.start)
        tree.end = self.end
        tree._sizes = list(self._sizes)
        tree._hashes = list(self._hashes)
        return tree


# -- proofs: which ranges of leaves they are made of ------------------------------


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges ``[lo, hi)`` whose roots make the inclusion proof of leaf
    ``index`` in a tree of ``size`` leaves, in proof order (RFC 9162, 2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    ranges = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo = lo + k
    ranges.reverse()
    return ranges


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The ranges whose roots make the proof that the tree of ``old`` leaves is
    a prefix of the tree of ``new`` leaves, in proof order (RFC 9162, 2.1.4.1)."""
    if not 0 < old <= new:
        raise ValueError(f"need 0 < old <= new; got old {old}, new {new}")
    ranges = []
    lo, hi, m, whole = 0, new, old, True
    while True:
        if m == hi - lo:
            if not whole:
                ranges.append((lo, hi))
            break
        k = _split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    ranges.reverse()
    return ranges


def range_roots(
    leaves: Iterable[bytes], ranges: Sequence[tuple[int, int]]
) -> list[bytes]:
    """The root of each of the disjoint ``ranges``, from a stream of leaf hashes
    (leaf 0 first), in one pass and O(log n) memory per range."""
    order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
    roots: list[bytes] = [b""] * len(ranges)
    pending = iter(order)
    current = next(pending, None)
    tree = MerkleTree()
    index = -1
    for index, digest in enumerate(leaves):
        if current is None:
            break
        lo, hi = ranges[current]
        if index < lo:
            continue
        tree.append_block(1, digest)
        if index == hi - 1:
            roots[current] = tree.root()
            tree = MerkleTree()
            current = next(pending, None)
    if current is not None:
        raise ValueError(
            f"the leaves end after {index + 1}; the proof needs leaves up to "
            f"{ranges[current][1]}"
        )
    return roots


def inclusion_proof(leaves: Iterable[bytes], index: int, size: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of the first ``size`` leaves."""
    return range_roots(leaves, inclusion_ranges(index, size))


def consistency_proof(leaves: Iterable[bytes], old: int, new: int) -> list[bytes]:
    """The proof that the tree of ``old`` leaves is a prefix of that of ``new``."""
    return range_roots(leaves, consistency_ranges(old, new))


# -- proofs: checking them ----------------------------------------------------------


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows the leaf hash ``leaf`` at ``index`` in the tree of
    ``size`` leaves whose root is ``root`` (RFC 9162, 2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn, digest = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            digest = node_hash(sibling, digest)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            digest = node_hash(digest, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and digest == root


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree of ``old`` leaves with root ``old_root``
    to be a prefix of the tree of ``new`` leaves with root ``new_root``
    (RFC 9162, 2.1.4.2; ``0 < old <= new``)."""
    if not 0 < old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old tree is a subtree
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_digest = new_digest = path[0]
    for sibling in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            old_digest = node_hash(sibling, old_digest)
            new_digest = node_hash(sibling, new_digest)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            new_digest = node_hash(new_digest, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and old_digest == old_root and new_digest == new_root


# -- proofs of a range of leaves (bundles) ----------------------------------------


def _outside(first: int, last: int, size: int) -> Iterator[tuple[int, int]]:
    """The maximal subtrees of the tree of ``size`` leaves that lie outside
    leaves ``first`` to ``last - 1``, in leaf order."""
    stack = [(0, size)]
    while stack:
        a, b = stack.pop()
        if b <= first or last <= a:
            yield a, b
        elif not (first <= a and b <= last):
            k = _split(b - a)
            stack.append((a + k, b))
            stack.append((a, a + k))


def range_proof(
    leaves: Iterable[bytes], first: int, last: int, size: int
) -> list[bytes]:
    """The roots that, with the leaves ``first`` to ``last - 1``, give the root
    of the tree of ``size`` leaves."""
    if not 0 <= first < last <= size:
        raise ValueError(f"need 0 <= first < last <= size; got {first}, {last}, {size}")
    return range_roots(leaves, list(_outside(first, last, size)))


def root_from_range(
    leaves: Sequence[bytes], first: int, size: int, proof: Sequence[bytes]
) -> bytes | None:
    """The root of the tree of ``size`` leaves from the hashes of its leaves
    ``first`` to ``first + len(leaves) - 1`` and their ``range_proof``; None if
    the proof has the wrong length."""
    last = first + len(leaves)
    if not leaves or first < 0 or last > size:
        return None
    outside = iter(proof)
    expected = sum(1 for _ in _outside(first, last, size))
    if expected != len(proof):
        return None

    def subtree(a: int, b: int) -> bytes:
        if b <= first or last <= a:
            return next(outside)
        if first <= a and b <= last:
            tree = MerkleTree()
            for digest in leaves[a - first : b - first]:
                tree.append_block(1, digest)
            return tree.root()
        k = _split(b - a)
        left = subtree(a, a + k)
        return node_hash(left, subtree(a + k, b))

    return subtree(0, size)
