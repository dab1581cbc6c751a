"""Numba kernels for the inner loops that numpy would run with large temporaries."""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def lagrangian_rho(W: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """``rho_j = sum_i min(0, W_ij - lam_i)`` for a C-ordered ``W`` (n x m)."""
    n, m = W.shape
    rho = np.zeros(m)
    for i in range(n):
        li = lam[i]
        for j in range(m):
            v = W[i, j] - li
            if v < 0.0:
                rho[j] += v
    return rho
