"""Clique cover of a conflict graph, for spacing constraints.

A spacing rule "no two open stations of a technology closer than d" is a conflict graph on the
candidates. One row ``x_j + x_k <= 1`` per conflicting pair is exact but large: with a 3 km
hydrogen spacing on thousands of candidates it is hundreds of thousands of rows, and the MILP
solver's memory grows with them. Any clique ``K`` of the conflict graph (every two members
conflict) gives the equivalent row ``sum_{j in K} x_j <= 1``, and a set of cliques that covers
every conflicting pair gives the same integer solutions with far fewer rows and a tighter LP
relaxation (a clique row implies all its pair rows).

:func:`clique_cover` builds such a cover greedily: for each uncovered pair ``(i, j)`` it starts
a clique ``{i, j}``, first adds common neighbours with an uncovered pair to ``i``, then any
remaining common neighbours (so the clique is maximal), and marks all pairs inside as covered.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit

__all__ = ["clique_cover"]


@njit(cache=True)
def _binary_find(indices, lo, hi, value):
    while lo < hi:
        mid = (lo + hi) // 2
        if indices[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _cover(indptr, indices, order):
    n = indptr.size - 1
    covered = np.zeros(indices.size, np.bool_)
    cnt = np.zeros(n, np.int64)          # adjacency count to the clique, for neighbours of i
    members = np.empty(n, np.int64)
    out_row = np.empty(max(16, 2 * indices.size), np.int64)
    out_col = np.empty(max(16, 2 * indices.size), np.int64)
    n_out, n_rows = 0, 0
    for i in order:
        a0, a1 = indptr[i], indptr[i + 1]
        for p in range(a0, a1):
            if covered[p]:
                continue
            for q in range(a0, a1):
                cnt[indices[q]] = 1
            size = 1
            members[0] = i
            for sweep in range(2):       # 0: members that cover new pairs with i; 1: fill up
                for q in range(a0, a1):
                    x = indices[q]
                    if cnt[x] != size or (sweep == 0 and q != p and covered[q]):
                        continue
                    members[size] = x
                    size += 1
                    cnt[x] = 0
                    for r in range(indptr[x], indptr[x + 1]):
                        y = indices[r]
                        if cnt[y] > 0:
                            cnt[y] += 1
            for q in range(a0, a1):
                cnt[indices[q]] = 0
            # mark every pair inside the clique covered, in both rows
            for s in range(size):
                u = members[s]
                for t in range(size):
                    if s != t:
                        w = members[t]
                        pos = _binary_find(indices, indptr[u], indptr[u + 1], w)
                        covered[pos] = True
            if n_out + size > out_row.size:
                grow = max(out_row.size, size)
                out_row = np.concatenate((out_row, np.empty(grow, np.int64)))
                out_col = np.concatenate((out_col, np.empty(grow, np.int64)))
            for s in range(size):
                out_row[n_out] = n_rows
                out_col[n_out] = members[s]
                n_out += 1
            n_rows += 1
    return out_row[:n_out], out_col[:n_out], n_rows


def clique_cover(a, b, n):
    """Cliques of the conflict graph that together contain every conflicting pair.

    Parameters
    ----------
    a, b : array of int
        Conflicting pairs (any order, duplicates allowed, no self-pairs).
    n : int
        Number of nodes.

    Returns
    -------
    row, member : numpy.ndarray of int
        Clique number and member node of each entry; the row ``sum_{member in clique} x <= 1``
        of every clique together forbid exactly the conflicting pairs.
    n_cliques : int
    """
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    if a.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
    if np.any(a == b):
        raise ValueError("a conflict pair joins a node to itself")
    g = sp.coo_matrix((np.ones(2 * a.size), (np.r_[a, b], np.r_[b, a])), shape=(n, n)).tocsr()
    g.sum_duplicates()
    g.sort_indices()
    degree = np.diff(g.indptr)
    order = np.argsort(-degree, kind="stable").astype(np.int64)
    return _cover(g.indptr.astype(np.int64), g.indices.astype(np.int64), order)
