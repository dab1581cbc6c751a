"""Node contraction for :mod:`planner.routing._hierarchy`, in rounds of independent nodes on all threads.

Each round (after OSRM's contractor):

1. *Select*: every remaining node whose priority is below that of each of its neighbours (ties:
   the lower number) — no two selected nodes are adjacent.
2. *Shortcuts, in parallel*: for every selected ``v`` and every pair ``u → v → x``, the shortcut
   ``u → x`` of weight ``w(u, v) + w(v, x)`` unless a witness search (a Dijkstra from ``u``
   avoiding **every** selected node, bounded by the via time, a number of settled nodes, and
   stopped once all out-neighbours of ``v`` are settled) finds a path ``u → x`` that is no longer.
   All searches read the graph as it was at the start of the round.
3. *Lazy check*: the count gives ``v`` its exact priority; ``v`` stays in the round only if it is
   still below every neighbour (else it waits, with that priority, for a later round — the
   round-wise form of lazy updates).
4. *Apply, in node order*: shortcuts inserted (or existing arcs lowered), the nodes unlinked; their
   neighbours' contracted-neighbour and level terms rise (their edge difference is counted afresh
   when they are selected). Large rounds are applied on all threads, each changing only its own
   adjacency rows, in node order, after the rows short of room have been moved.

Why this is exact: a shortest path through a selected ``v`` enters and leaves it from nodes that
are not selected (no two selected nodes are adjacent); that pair gets the shortcut or has a
witness path that avoids every selected node, so it is still there after the round (arcs
between remaining nodes are never removed, only lowered). Adding an unneeded shortcut (a search
stopped by its limits) is only a cost, never an error.

Priority = shortcuts added − arcs removed + contracted neighbours + level (1 + the highest level
among contracted neighbours; it spreads the contraction evenly over the map). The result does not
depend on the number of threads: every search of a round reads the same graph, and every row sees
the round's changes in node order.

The graph being contracted is held as growable adjacency rows in one pool: row ``v`` (< n) holds
the arcs leaving ``v`` (heads ``nb``, weights ``w``), row ``n + v`` the arcs entering ``v``
(tails). Row ``r`` occupies ``nb[ptr[r] : ptr[r] + ln[r]]`` within a capacity ``cp[r]``; a row
short of room for a round's shortcuts moves to the end of the pool with at least twice the
capacity (the pool doubles when needed).
Contracting ``v`` unlinks it from its neighbours' rows but leaves its own rows: they become its
up/down arcs.
"""
from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp
from numba import get_thread_id, njit, prange

from planner.routing._heap import pop, push

#: Contraction gives up (dense, not road-like graph) when the remaining graph holds this many times
#: the original number of arcs.
ARC_BUDGET = 8
#: Consecutive nodes of a round evaluated by one thread.
_CHUNK = 64
#: Remaining nodes scanned for local minima by one thread at a time (fewer than 4 chunks: one thread).
_MINIMA_CHUNK = 8192
#: Rounds with fewer witness searches than this run on one thread (starting threads costs more).
_PARALLEL_SEARCHES = 2000
#: Rounds with fewer shortcuts than this are applied by one thread.
_PARALLEL_SHORTCUTS = 2000


@njit(cache=True, nogil=True)
def _find(ptr, ln, nb, r, x):
    for k in range(ptr[r], ptr[r] + ln[r]):
        if nb[k] == x:
            return k
    return -1


@njit(cache=True, nogil=True)
def _unlink(ptr, ln, nb, w, r, x):
    """Remove ``x`` from row ``r`` (order not kept)."""
    k = _find(ptr, ln, nb, r, x)
    last = ptr[r] + ln[r] - 1
    nb[k] = nb[last]
    w[k] = w[last]
    ln[r] -= 1


@njit(cache=True, nogil=True)
def _grow(ptr, ln, cp, nb, w, top, r, cap):
    """Move row ``r`` to the end of the pool with capacity ``cap`` (growing the pool); returns ``(nb, w, top)``."""
    if top + cap > len(nb):
        size = max(2 * len(nb), top + cap)
        nb2 = np.empty(size, nb.dtype)
        w2 = np.empty(size, w.dtype)
        nb2[:top] = nb[:top]
        w2[:top] = w[:top]
        nb, w = nb2, w2
    nb[top:top + ln[r]] = nb[ptr[r]:ptr[r] + ln[r]]
    w[top:top + ln[r]] = w[ptr[r]:ptr[r] + ln[r]]
    ptr[r] = top
    cp[r] = cap
    return nb, w, top + cap


@njit(cache=True, nogil=True, inline="always")
def _owner(r, n_parts):
    """The thread (of ``n_parts``) that changes adjacency row ``r`` in a round: rows go in blocks of 64."""
    return (r >> 6) % n_parts


@njit(cache=True, parallel=True)
def _short_rows(n, start, counts, sc_u, sc_x, ln, cp, need, n_parts):
    """Rows short of room for the round's shortcuts that may land in them, and the room each needs.

    Rows are shared out among ``n_parts`` threads by :func:`_owner`; thread ``t`` lists its
    rows in ``rows[t, :n_rows[t]]`` and their capacities in ``caps``. ``need`` (zeros, one per
    row) is left as found.
    """
    rows = np.empty((n_parts, 2 * counts.sum()), np.int64)
    caps = np.empty_like(rows)
    n_rows = np.zeros(n_parts, np.int64)
    for t in prange(n_parts):
        for i in range(len(counts)):
            for s in range(start[i], start[i] + counts[i]):
                for r in (sc_u[s], n + sc_x[s]):
                    if _owner(r, n_parts) == t:
                        need[r] += 1
        for i in range(len(counts)):
            for s in range(start[i], start[i] + counts[i]):
                for r in (sc_u[s], n + sc_x[s]):
                    if _owner(r, n_parts) == t and need[r] > 0:
                        if ln[r] + need[r] > cp[r]:
                            rows[t, n_rows[t]] = r
                            caps[t, n_rows[t]] = max(2 * cp[r], ln[r] + need[r])
                            n_rows[t] += 1
                        need[r] = 0
    return rows, caps, n_rows


@njit(cache=True, nogil=True)
def _move_rows(rows, caps, n_rows, ptr, ln, cp, nb, w, top):
    """:func:`_grow` the rows listed by :func:`_short_rows`; returns ``(nb, w, top)``."""
    for t in range(len(n_rows)):
        for k in range(n_rows[t]):
            nb, w, top = _grow(ptr, ln, cp, nb, w, top, rows[t, k], caps[t, k])
    return nb, w, top


@njit(cache=True, nogil=True)
def _set_half(ptr, ln, nb, w, r, x, c):
    """Add ``x`` with weight ``c`` to row ``r`` (room reserved) or lower it there; returns 1 if added."""
    k = _find(ptr, ln, nb, r, x)
    if k >= 0:
        if c < w[k]:
            w[k] = c
        return 0
    nb[ptr[r] + ln[r]] = x
    w[ptr[r] + ln[r]] = c
    ln[r] += 1
    return 1


@njit(cache=True, nogil=True)
def _witness(ptr, ln, nb, w, source, avoid, blocked, bound, max_settled, n_targets, target, dist, touched,
             heap_d, heap_v):
    """Dijkstra from ``source`` avoiding ``avoid`` and the ``blocked`` nodes, up to ``bound`` and ``max_settled``.

    Stops as soon as the ``n_targets`` nodes flagged in ``target`` are settled. Leaves tentative
    times (each the length of a real path) in ``dist`` (all ``inf`` on entry); returns how many
    entries of ``touched`` name the nodes to reset.
    """
    n_touched = 1
    touched[0] = source
    dist[source] = 0.0
    size = push(heap_d, heap_v, 0, 0.0, source)
    settled = 0
    cap = len(heap_d)
    while size > 0:
        d = heap_d[0]
        u = heap_v[0]
        size = pop(heap_d, heap_v, size)
        if d > dist[u]:
            continue
        if d > bound or settled >= max_settled:
            break
        settled += 1
        if target[u]:
            n_targets -= 1
            if n_targets == 0:
                break
        for k in range(ptr[u], ptr[u] + ln[u]):
            x = nb[k]
            nd = d + w[k]
            if x != avoid and nd < dist[x] and nd <= bound and not blocked[x]:
                if dist[x] == np.inf:
                    touched[n_touched] = x
                    n_touched += 1
                dist[x] = nd
                if size < cap:
                    size = push(heap_d, heap_v, size, nd, x)
    return n_touched


@njit(cache=True, nogil=True)
def _shortcuts(n, v, ptr, ln, nb, w, blocked, max_settled, dist, target, touched, heap_d, heap_v,
               sc_u, sc_x, sc_w, start):
    """Shortcuts needed to contract ``v`` (written to ``sc_*[start:]`` unless ``sc_u`` is empty); returns how many."""
    longest_out = 0.0
    for b in range(ptr[v], ptr[v] + ln[v]):
        longest_out = max(longest_out, w[b])
        target[nb[b]] = True
    count = 0
    r_in = n + v
    for a in range(ptr[r_in], ptr[r_in] + ln[r_in]):
        u = nb[a]
        w_in = w[a]
        n_touched = _witness(ptr, ln, nb, w, u, v, blocked, w_in + longest_out, max_settled, ln[v], target, dist,
                             touched, heap_d, heap_v)
        for b in range(ptr[v], ptr[v] + ln[v]):
            x = nb[b]
            via = w_in + w[b]
            if x != u and dist[x] > via:
                if len(sc_u):
                    sc_u[start + count] = u
                    sc_x[start + count] = x
                    sc_w[start + count] = via
                count += 1
        for t in range(n_touched):
            dist[touched[t]] = np.inf
    for b in range(ptr[v], ptr[v] + ln[v]):
        target[nb[b]] = False
    return count


@njit(cache=True, nogil=True)
def _shortcuts_of(lo, hi, t, n, nodes, ptr, ln, nb, w, blocked, max_settled, counts, start, sc_u, sc_x, sc_w,
                  dist, target, touched, heap_d, heap_v):
    """:func:`_shortcuts` of ``nodes[lo:hi]`` into ``counts`` (and ``sc_*`` from ``start``), with scratch row ``t``."""
    for i in range(lo, hi):
        counts[i] = _shortcuts(n, nodes[i], ptr, ln, nb, w, blocked, max_settled, dist[t], target[t], touched[t],
                               heap_d[t], heap_v[t], sc_u, sc_x, sc_w, start[i])


@njit(cache=True, parallel=True)
def _shortcuts_parallel(n, nodes, ptr, ln, nb, w, blocked, max_settled, counts, start, sc_u, sc_x, sc_w,
                        dist, target, touched, heap_d, heap_v):
    """:func:`_shortcuts_of` all ``nodes`` on all threads (scratch arrays: one row per thread).

    The nodes go in chunks of :data:`_CHUNK` consecutive ones (neighbours in the numbering: nearby
    memory, and no two threads writing the same cache lines), handed out as threads become free
    (see :func:`_all_shortcuts`). A node's result depends on the graph only, not on the thread.
    """
    n_chunks = (len(nodes) + _CHUNK - 1) // _CHUNK
    for c in prange(n_chunks):
        _shortcuts_of(c * _CHUNK, min((c + 1) * _CHUNK, len(nodes)), get_thread_id(), n, nodes, ptr, ln, nb, w,
                      blocked, max_settled, counts, start, sc_u, sc_x, sc_w, dist, target, touched, heap_d, heap_v)


def _all_shortcuts(n: int, nodes: np.ndarray, ptr: np.ndarray, ln: np.ndarray, nb: np.ndarray, w: np.ndarray,
                   blocked: np.ndarray, max_settled: int, counts: np.ndarray, start: np.ndarray, sc_u: np.ndarray,
                   sc_x: np.ndarray, sc_w: np.ndarray, scratch: tuple) -> None:
    """Shortcuts of every node of ``nodes``; on all threads from :data:`_PARALLEL_SEARCHES` searches on."""
    args = (n, nodes, ptr, ln, nb, w, blocked, max_settled, counts, start, sc_u, sc_x, sc_w, *scratch)
    if ln[n + nodes].sum() < _PARALLEL_SEARCHES:
        _shortcuts_of(0, len(nodes), 0, *args)
    else:
        with numba.parallel_chunksize(1):  # chunks go to the threads as they become free
            _shortcuts_parallel(*args)


@njit(cache=True, nogil=True, inline="always")
def _below_neighbours(v, p, priority, ptr, ln, nb, n):
    """Whether ``(p, v)`` is below ``(priority, number)`` of every in- and out-neighbour of ``v``."""
    for r in (v, n + v):
        for a in range(ptr[r], ptr[r] + ln[r]):
            u = nb[a]
            if priority[u] < p or (priority[u] == p and u < v):
                return False
    return True


@njit(cache=True, nogil=True)
def _minima_of(lo, hi, alive, priority, ptr, ln, nb, n, best):
    """Clear ``best[i]`` (``lo <= i < hi``) unless ``(priority, number)`` of ``alive[i]`` is below every neighbour's."""
    for i in range(lo, hi):
        if not _below_neighbours(alive[i], priority[alive[i]], priority, ptr, ln, nb, n):
            best[i] = False


@njit(cache=True, parallel=True)
def _minima_parallel(alive, priority, ptr, ln, nb, n, best):
    """:func:`_minima_of` over all of ``alive``, in chunks spread over the threads."""
    n_chunks = (len(alive) + _MINIMA_CHUNK - 1) // _MINIMA_CHUNK
    for c in prange(n_chunks):
        _minima_of(c * _MINIMA_CHUNK, min((c + 1) * _MINIMA_CHUNK, len(alive)), alive, priority, ptr, ln, nb, n, best)


def _local_minima(alive: np.ndarray, priority: np.ndarray, ptr: np.ndarray, ln: np.ndarray, nb: np.ndarray,
                  n: int) -> np.ndarray:
    """Nodes of ``alive`` whose ``(priority, number)`` is below that of every neighbour, in order."""
    best = np.ones(len(alive), np.bool_)
    if len(alive) < 4 * _MINIMA_CHUNK:
        _minima_of(0, len(alive), alive, priority, ptr, ln, nb, n, best)
    else:
        _minima_parallel(alive, priority, ptr, ln, nb, n, best)
    return alive[best]


def _pool(n: int, indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray) -> tuple:
    """The adjacency pool of a CSR graph; returns ``(ptr, ln, cp, nb, w, top, arcs)``.

    Self-loops and ``inf``/NaN arcs are dropped; of parallel arcs the fastest is kept.
    """
    graph = sp.csr_matrix((weights, indices, indptr), shape=(n, n), copy=True)
    graph.sort_indices()  # each row by head (scipy): parallel arcs are next to each other
    return _fill(n, graph.indptr.astype(np.int64), graph.indices.astype(np.int64), graph.data.astype(np.float64))


@njit(cache=True, nogil=True)
def _fill(n, indptr, indices, weights):
    """Rows of the pool from a CSR graph with sorted rows, with room to grow."""
    keep = np.zeros(len(indices), np.bool_)  # the fastest of each run of parallel arcs
    deg = np.zeros(2 * n, np.int64)
    for u in range(n):
        last = best = -1
        for k in range(indptr[u], indptr[u + 1]):
            x = indices[k]
            if x == u or not weights[k] < np.inf:  # drops self-loops, inf and NaN
                continue
            if x == last:  # a parallel arc: the faster one stays
                if weights[k] < weights[best]:
                    keep[best] = False
                    keep[k] = True
                    best = k
                continue
            last, best = x, k
            keep[k] = True
            deg[u] += 1
            deg[n + x] += 1
    ptr = np.empty(2 * n, np.int64)
    cp = np.empty(2 * n, np.int64)
    top = 0
    for r in range(2 * n):
        cp[r] = max(4, deg[r] + 2)
        ptr[r] = top
        top += cp[r]
    nb = np.empty(2 * top, np.int32)
    w = np.empty(2 * top, np.float64)
    ln = np.zeros(2 * n, np.int64)
    arcs = 0
    for u in range(n):
        for k in range(indptr[u], indptr[u + 1]):
            if keep[k]:
                arcs += 1
                for r, x in ((u, indices[k]), (n + indices[k], u)):
                    nb[ptr[r] + ln[r]] = x
                    w[ptr[r] + ln[r]] = weights[k]
                    ln[r] += 1
    return ptr, ln, cp, nb, w, top, arcs


@njit(cache=True, parallel=True)
def _apply(n, chosen, counts, start, sc_u, sc_x, sc_w, ptr, ln, nb, w, n_parts):
    """Insert the round's shortcuts and unlink its nodes; returns the number of arcs added.

    Arc ``u → x`` lives in two rows, ``u`` (out) and ``n + x`` (in); each row is changed by one of
    ``n_parts`` threads only (:func:`_owner`), which applies its rows' changes in node order, as
    one thread would. No two nodes of a round are adjacent, so the rows of ``chosen`` (read here)
    are not changed; rows short of room were moved first (:func:`_short_rows`, :func:`_move_rows`),
    so no row moves.
    """
    added = np.zeros(n_parts, np.int64)
    for t in prange(n_parts):
        for i in range(len(chosen)):
            v = chosen[i]
            for s in range(start[i], start[i] + counts[i]):
                u, x = sc_u[s], sc_x[s]
                if _owner(u, n_parts) == t:
                    added[t] += _set_half(ptr, ln, nb, w, u, x, sc_w[s])
                if _owner(n + x, n_parts) == t:
                    _set_half(ptr, ln, nb, w, n + x, u, sc_w[s])
            for a in range(ptr[n + v], ptr[n + v] + ln[n + v]):
                if _owner(nb[a], n_parts) == t:
                    _unlink(ptr, ln, nb, w, nb[a], v)
            for b in range(ptr[v], ptr[v] + ln[v]):
                if _owner(n + nb[b], n_parts) == t:
                    _unlink(ptr, ln, nb, w, n + nb[b], v)
    return added.sum()


@njit(cache=True, nogil=True)
def _neighbours(n, chosen, ptr, ln, nb, contracted_nb, level, priority):
    """Raise the contracted-neighbour and level terms of the round's neighbours, and their priority."""
    for v in chosen:
        for side in range(2):
            r = n + v if side == 0 else v
            for a in range(ptr[r], ptr[r] + ln[r]):
                u = nb[a]
                if side == 1 and _find(ptr, ln, nb, n + v, u) >= 0:
                    continue  # both in- and out-neighbour: done already
                contracted_nb[u] += 1
                level[u] = max(level[u], level[v] + 1)
                # lazy: only the neighbour terms; the edge difference is re-evaluated when selected
                priority[u] = max(priority[u], level[u]) + 1


@njit(cache=True, nogil=True)
def _still_minima(chosen, exact, priority, ptr, ln, nb, n):
    """Which of ``chosen`` stay below every neighbour with their ``exact`` priority (ties: lower number)."""
    keep = np.ones(len(chosen), np.bool_)
    for i in range(len(chosen)):
        keep[i] = _below_neighbours(chosen[i], exact[i], priority, ptr, ln, nb, n)
    return keep


def contract(n: int, indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, stop_min: int, stop_max: int,
             dense_degree: float, give_up_degree: float, witness_settled: int,
             heap_cap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Contract nodes in rounds until the core rule stops it (see :func:`planner.routing._hierarchy.build_hierarchy`).

    Parameters
    ----------
    n : int
        Nodes.
    indptr, indices, weights : ndarray
        CSR of the arcs (self-loops and ``inf``/NaN arcs are dropped, parallel arcs keep the fastest).
    stop_min, stop_max : int
        Contraction goes on while more than ``stop_min`` nodes remain, and stops when at most
        ``stop_max`` remain and the remaining graph has ``dense_degree`` arcs per node.
    dense_degree, give_up_degree : float
        See above; with more than ``stop_max`` nodes left and ``give_up_degree`` arcs per node
        (or :data:`ARC_BUDGET` times the original arcs) it gives up.
    witness_settled : int
        Settled nodes per witness search (the first estimate of every node's priority settles one).
    heap_cap : int
        Entries of a witness search's heap (a full heap stops pushing: an unneeded shortcut at worst).

    Returns
    -------
    order : ndarray of int64
        Contracted nodes, in contraction order (rounds in order, each by node number).
    ptr, ln, nb, w : ndarray
        The adjacency pool; the rows of a contracted node hold its up (out) and down (in) arcs.
    """
    ptr, ln, cp, nb, w, top, m_left = _pool(n, indptr, indices, weights)
    m_budget = ARC_BUDGET * m_left + 1000
    n_threads = numba.get_num_threads()
    scratch = (np.full((n_threads, n), np.inf), np.zeros((n_threads, n), np.bool_),
               np.empty((n_threads, n), np.int64), np.empty((n_threads, heap_cap + 1)),
               np.empty((n_threads, heap_cap + 1), np.int64))
    blocked = np.zeros(n, np.bool_)
    need = np.zeros(2 * n, np.int32)  # per row: room wanted by a round's shortcuts
    no_output = np.empty(0, np.int64)
    contracted_nb = np.zeros(n)
    level = np.zeros(n)
    alive = np.arange(n)
    counts = np.empty(n, np.int64)
    _all_shortcuts(n, alive, ptr, ln, nb, w, blocked, 1, counts, alive, no_output, no_output, np.empty(0),
                   scratch)  # first estimate: 1-node searches
    priority = (counts - ln[:n] - ln[n:]).astype(np.float64)
    order = []
    n_done = 0
    while True:
        left = n - n_done
        if left <= stop_min or (left <= stop_max and m_left >= dense_degree * left):
            break
        if left > stop_max and (m_left >= give_up_degree * left or m_left > m_budget):
            break  # dense, not road-like: the core would be too large to tabulate
        chosen = _local_minima(alive, priority, ptr, ln, nb, n)
        if left - len(chosen) < stop_min:  # the cheapest ones only, down to stop_min
            chosen = np.sort(chosen[np.argsort(priority[chosen], kind="stable")[:left - stop_min]])
        start = np.zeros(len(chosen) + 1, np.int64)
        np.cumsum(ln[chosen] * ln[n + chosen], out=start[1:])
        blocked[chosen] = True
        sc_u, sc_x, sc_w = np.empty(start[-1], np.int64), np.empty(start[-1], np.int64), np.empty(start[-1])
        _all_shortcuts(n, chosen, ptr, ln, nb, w, blocked, witness_settled, counts, start, sc_u, sc_x, sc_w,
                       scratch)
        blocked[chosen] = False
        exact = counts[:len(chosen)] - ln[chosen] - ln[n + chosen] + contracted_nb[chosen] + level[chosen]
        keep = _still_minima(chosen, exact, priority, ptr, ln, nb, n)
        if not keep.any():  # progress: the cheapest one goes anyway (any subset of the round may go)
            keep[np.lexsort((chosen, exact))[0]] = True
        priority[chosen] = exact  # lazy update: the rejected ones wait for a later round
        start, counts_kept, chosen = start[:-1][keep], counts[:len(chosen)][keep], chosen[keep]
        # room first (rows short of it move to the end of the pool), so that the
        # parallel apply never moves a row
        n_parts = n_threads if counts_kept.sum() >= _PARALLEL_SHORTCUTS else 1
        rows, caps, n_rows = _short_rows(n, start, counts_kept, sc_u, sc_x, ln, cp, need, n_parts)
        nb, w, top = _move_rows(rows, caps, n_rows, ptr, ln, cp, nb, w, top)
        m_left += _apply(n, chosen, counts_kept, start, sc_u, sc_x, sc_w, ptr, ln, nb, w, n_parts) - (
            ln[chosen].sum() + ln[n + chosen].sum())
        order.append(chosen)
        n_done += len(chosen)
        _neighbours(n, chosen, ptr, ln, nb, contracted_nb, level, priority)
        priority[chosen] = np.inf  # contracted: out of the selection
        alive = alive[priority[alive] < np.inf]
    return (np.concatenate(order) if order else np.empty(0, np.int64)), ptr, ln, nb, w
