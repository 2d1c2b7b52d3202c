"""The forcing ``F = B u`` in a fixed order of float64 operations."""

from __future__ import annotations

import numpy as np

from ._typing import FloatArray

__all__ = ["ordered_matvec"]


def ordered_matvec(Bt: FloatArray, U: FloatArray) -> FloatArray:
    """``B u`` for every input in ``U``, summed over the columns of ``B`` in order.

    Args:
        Bt: The transpose of ``B``, shape (m, P): row ``j`` is column ``j`` of ``B``.
        U: Inputs, shape (..., m).

    Returns:
        Shape (..., P): ``((B[:, 0] u[0] + B[:, 1] u[1]) + B[:, 2] u[2]) + ...``.

    BLAS (``@``, ``dot``, ``einsum``) may split, reorder or fuse this sum, so its
    bytes depend on the build and the thread count. Here each product is one
    float64 multiplication and ``add.accumulate`` materialises every partial sum
    ``s_j = s_{j-1} + p_j``; its last row is therefore the left-to-right sum on
    every build, and a row of ``U`` gives the same bytes alone or in a batch.
    """
    m, size = Bt.shape
    cols = np.moveaxis(U, -1, 0)[..., np.newaxis]  # (m, ..., 1)
    rows = Bt.reshape(m, *([1] * (cols.ndim - 2)), size)  # (m, 1..., P)
    products = np.multiply(rows, cols)
    result: FloatArray = np.add.accumulate(products, axis=0)[-1]
    return result
