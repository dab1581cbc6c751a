"""Travel times within a cutoff on a contracted graph (private engine of :mod:`planner.routing`).

Why
---
With a cutoff, most of a large network lies beyond it: 45 minutes reach ~6 % of a 476k-node
network. The full downward sweep of :func:`planner.routing._hierarchy.many_to_all` still visits
every node for every block of sources; here only the reached area is swept.

How
---
For a block of :data:`LANES` sources: upward searches and core times as in the full query
(core entries that another entry dominates are skipped; each entry's row of the core table is
read as a sparse row sorted by time, stopped at the cutoff); then only the nodes the block reaches
within the cutoff are swept, in sweep order: a reached node marks the children it can lead to
within the cutoff, and a marked node pulls its times from its reached parents (all earlier in the
order, so final). Marked nodes are found by scanning a byte map with a summary per :data:`_SPAN`
positions. Times, marks and the output are touched only where reached, and reset there afterwards.

Sources are taken in order of their home (:attr:`Hierarchy.home`, the core node their cheapest
arcs lead up to, numbered along the map), so the sources of a block lie close together and share
most of their sweep; runs of blocks go to threads (the kernels release the GIL).

Results come dense (``inf`` beyond the cutoff) or sparse (per source: the reached nodes and their
times). Sparse rows are written into room allocated by NumPy (large arrays get huge pages: on these
machines a first touch costs ~0.6 ms per MB in 4 KiB pages, ~0.3 in huge pages, more than the
writing) and copied once, by the threads, into the given order. When the first block sweeps more
than :data:`FULL_SWEEP_SHARE` of the network (a short network or a long cutoff), the full sweep,
linear and faster there, answers the rest (measured: bounded 2.4× faster at a third of the network
swept, full 2.4× faster at 94 %).
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit, prange

from planner.routing._hierarchy import BLOCK, Hierarchy, many_to_all, prepare, upward
from planner.routing._hierarchy import SPAN as _SPAN

#: Sources sharing one bounded sweep (one cache line of times per node, as in the full sweep).
LANES = BLOCK
#: Share of the network a block may sweep before the full sweep (linear, cache-friendly) is faster.
FULL_SWEEP_SHARE = 0.5

_lock = threading.Lock()


@njit(cache=True, nogil=True)
def _mark(v, mark, span):
    mark[v] = True
    span[v // _SPAN] = True


@njit(cache=True, nogil=True)
def _core_from_entries(table, near_ptr, near_ind, near_t, times, j, entries, n_entries, cutoff, mark, span):
    """Core times of source ``j`` from its core entries, skipping entries another entry dominates.

    Each entry's row of the core table is read as its sorted sparse row (:func:`_near_rows`), up to
    the cutoff; every core node within the cutoff is marked.
    """
    for a in range(n_entries):
        ea = entries[a]
        ta = times[ea, j]
        if ta > cutoff:
            continue
        dominated = False
        for b in range(n_entries):
            eb = entries[b]
            via = times[eb, j] + table[eb, ea]
            if b != a and (via < ta or (via == ta and eb < ea)):
                dominated = True  # every core time through ea is at least as short through eb
                break
        if dominated:
            continue
        for k in range(near_ptr[ea], near_ptr[ea + 1]):
            t = ta + near_t[k]
            if t > cutoff:
                break  # the row is sorted by time
            c = near_ind[k]
            if t <= times[c, j]:  # an entry holds its own time already: marked here too
                times[c, j] = t
                _mark(c, mark, span)


@njit(cache=True, nogil=True)
def _seed(n_core, up_ptr, up_ind, up_w, table, near_ptr, near_ind, near_t, sources, cutoff, times, mark, span,
          heap_d, heap_v, entries):
    """Upward searches and core times of every source of a block; marks what they reach."""
    for j in range(len(sources)):
        n_entries = upward(up_ptr, up_ind, up_w, n_core, sources[j], cutoff, times, j, heap_d, heap_v, entries,
                           mark, span)
        _core_from_entries(table, near_ptr, near_ind, near_t, times, j, entries, n_entries, cutoff, mark, span)


@njit(cache=True, parallel=True)
def _near_count(table, bound):
    counts = np.zeros(len(table) + 1, np.int64)
    for r in prange(len(table)):
        c = 0
        for x in table[r]:
            if x <= bound:
                c += 1
        counts[r + 1] = c
    return counts


@njit(cache=True, parallel=True)
def _near_fill(table, bound, ptr, ind, t):
    for r in prange(len(table)):
        row = table[r]
        pos = np.flatnonzero(row <= bound)
        pos = pos[np.argsort(row[pos], kind="mergesort")]
        for k in range(len(pos)):
            ind[ptr[r] + k] = pos[k]
            t[ptr[r] + k] = row[pos[k]]


def _near_rows(h: Hierarchy, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of the core table as sparse rows sorted by time, up to ``cutoff`` (cached per hierarchy).

    At 4×4, 45 minutes hold 7 % of the table: an entry's core times are then read from ~290
    sorted pairs, not a 4,096-wide row.
    """
    with _lock:
        have = h.near.get("rows")
        if have is None or have[0] < cutoff:
            ptr = np.cumsum(_near_count(h.table, cutoff))
            ind = np.empty(ptr[-1], np.int64)
            t = np.empty(ptr[-1], np.float64)
            _near_fill(h.table, cutoff, ptr, ind, t)
            h.near["rows"] = have = (cutoff, ptr, ind, t)
    return have[1:]


@njit(cache=True, nogil=True)
def _sweep_within(n_core, up_ptr, up_ind, up_w, down_ptr, down_par, down_w, child_ptr, child_ind, child_w, table,
                  near_ptr, near_ind, near_t, sources, cutoff, times, mark, span, visited, reached, heap_d, heap_v,
                  entries):
    """Up to :data:`LANES` sources within ``cutoff``: upward searches, core, bounded sweep.

    A marked node pulls its times from its reached parents (down arcs), then, if one of its
    sources reaches it within the cutoff, marks the children it can lead to within it. Leaves
    the times of lane ``j`` (source ``sources[j]``) in ``times[:, j]`` at the returned number of
    ``visited`` positions (and the core rows); :func:`_clear` restores ``times`` to ``inf`` and
    ``reached`` to ``False``. ``mark`` and ``span`` (all ``False``) are left as found.
    """
    _seed(n_core, up_ptr, up_ind, up_w, table, near_ptr, near_ind, near_t, sources, cutoff, times, mark, span,
          heap_d, heap_v, entries)
    n_vis = 0
    for b in range(len(span)):
        if not span[b]:
            continue
        span[b] = False
        for v in range(b * _SPAN, min((b + 1) * _SPAN, len(mark))):
            if not mark[v]:
                continue
            mark[v] = False
            visited[n_vis] = v
            n_vis += 1
            if v >= n_core:  # pull (a constant lane count lets the compiler unroll the lanes)
                i = v - n_core
                for k in range(down_ptr[i], down_ptr[i + 1]):
                    p = down_par[k]
                    if reached[p]:
                        w = down_w[k]
                        for j in range(LANES):
                            x = times[p, j] + w
                            times[v, j] = x if x < times[v, j] else times[v, j]
            low = times[v, 0]
            for j in range(1, LANES):
                low = low if low < times[v, j] else times[v, j]
            if low <= cutoff:
                reached[v] = True
                for k in range(child_ptr[v], child_ptr[v + 1]):
                    if low + child_w[k] <= cutoff:
                        c = child_ind[k]
                        mark[c] = True
                        span[c // _SPAN] = True
    return n_vis


@njit(cache=True, nogil=True)
def _clear(n_core, times, visited, reached, n_vis):
    """Reset what :func:`_sweep_within` wrote: ``times`` to ``inf``, ``reached`` to ``False``."""
    for i in range(n_vis):
        times[visited[i], :] = np.inf
        reached[visited[i]] = False
    times[:n_core, :] = np.inf


def _lines(n: int) -> np.ndarray:
    """``(n, LANES)`` float64 array of ``inf`` whose rows start on 64-byte cache-line boundaries."""
    raw = np.full(n * LANES + 8, np.inf)
    skip = (-raw.ctypes.data % 64) // 8
    return raw[skip:skip + n * LANES].reshape(n, LANES)


def _scratch(h: Hierarchy) -> tuple[np.ndarray, ...]:
    """Working arrays of one thread for :func:`_sweep_within`."""
    return (_lines(h.n), np.zeros(h.n, np.bool_), np.zeros((h.n + _SPAN - 1) // _SPAN, np.bool_),
            np.empty(h.n, np.int64), np.zeros(h.n, np.bool_), np.empty(len(h.up_ind) + 1, np.float64),
            np.empty(len(h.up_ind) + 1, np.int64), np.empty(h.n_core + 1, np.int64))


@njit(cache=True, nogil=True)
def _within_dense(n_core, up_ptr, up_ind, up_w, down_ptr, down_par, down_w, child_ptr, child_ind, child_w, table,
                  near_ptr, near_ind, near_t, node_of, sources, rows, cutoff, out, times, mark, span, visited,
                  reached, heap_d, heap_v, entries):
    """Blocks of ``sources`` one after the other; source ``i`` fills row ``rows[i]`` of ``out``.

    Returns the number of positions swept, summed over the blocks.
    """
    swept = 0
    for lo in range(0, len(sources), times.shape[1]):
        hi = min(lo + times.shape[1], len(sources))
        n_vis = _sweep_within(n_core, up_ptr, up_ind, up_w, down_ptr, down_par, down_w, child_ptr, child_ind,
                              child_w, table, near_ptr, near_ind, near_t, sources[lo:hi], cutoff, times, mark, span,
                              visited, reached, heap_d, heap_v, entries)
        for j in range(hi - lo):
            out[rows[lo + j], :] = np.inf
        for i in range(n_vis):  # one pass over the swept rows, every lane at once
            v = visited[i]
            node = node_of[v]
            for j in range(hi - lo):
                if times[v, j] <= cutoff:
                    out[rows[lo + j], node] = times[v, j]
        _clear(n_core, times, visited, reached, n_vis)
        swept += n_vis
    return swept


@njit(cache=True, nogil=True)
def _within_sparse(n_core, up_ptr, up_ind, up_w, down_ptr, down_par, down_w, child_ptr, child_ind, child_w, table,
                   near_ptr, near_ind, near_t, node_of, sources, cutoff, times, mark, span, visited, reached, heap_d,
                   heap_v, entries, nodes, values):
    """Blocks of ``sources`` one after the other, as sparse rows written to ``nodes`` and ``values``.

    Returns the count of nodes within the cutoff of every source, the nodes and times, source
    after source (``nodes``/``values`` themselves, or larger copies when they were short: pass
    room enough, allocated by NumPy, whose large arrays get huge pages — a page fault per 4 KiB of
    fresh memory costs more here than writing it), and the number of positions swept.
    """
    counts = np.zeros(len(sources), np.int64)
    start = np.empty(times.shape[1], np.int64)
    used = 0
    swept = 0
    for lo in range(0, len(sources), times.shape[1]):
        hi = min(lo + times.shape[1], len(sources))
        n_vis = _sweep_within(n_core, up_ptr, up_ind, up_w, down_ptr, down_par, down_w, child_ptr, child_ind,
                              child_w, table, near_ptr, near_ind, near_t, sources[lo:hi], cutoff, times, mark, span,
                              visited, reached, heap_d, heap_v, entries)
        ns = hi - lo
        for i in range(n_vis):  # count first, then write each source's run in one more pass
            v = visited[i]
            for j in range(ns):
                if times[v, j] <= cutoff:
                    counts[lo + j] += 1
        need = used
        for j in range(ns):
            start[j] = need
            need += counts[lo + j]
        if need > len(nodes):
            size = max(2 * len(nodes), need)
            nodes2 = np.empty(size, np.int32)
            values2 = np.empty(size, np.float64)
            nodes2[:used] = nodes[:used]
            values2[:used] = values[:used]
            nodes, values = nodes2, values2
        for i in range(n_vis):
            v = visited[i]
            node = node_of[v]
            for j in range(ns):
                x = times[v, j]
                if x <= cutoff:
                    nodes[start[j]] = node
                    values[start[j]] = x
                    start[j] += 1
        used = need
        swept += n_vis
        _clear(n_core, times, visited, reached, n_vis)
    return counts, nodes[:used], values[:used], swept


@njit(cache=True, nogil=True)
def _gather(parts_nodes, parts_values, seg_from, counts, seg_to, nodes, values):
    """Copy segment ``i`` (``counts[i]`` entries at ``seg_from[i]``) to ``seg_to[i]``."""
    for i in range(len(counts)):
        a = seg_from[i]
        b = seg_to[i]
        for k in range(counts[i]):
            nodes[b + k] = parts_nodes[a + k]
            values[b + k] = parts_values[a + k]


def many_within(h: Hierarchy, sources, cutoff: float, out: np.ndarray | None = None):
    """Travel times from ``sources`` to every node within ``cutoff`` (finite).

    Only the nodes within the cutoff are swept (marked by reached parents, in sweep order), so the
    work follows the reached area, not the network. Sources are taken in order of their home
    (:attr:`Hierarchy.home`), so the 8 of a block lie close together and share most of their sweep;
    runs of blocks go to threads (the kernels release the GIL).

    Parameters
    ----------
    h : Hierarchy
    sources : ndarray of int64
        Original node positions.
    cutoff : float
    out : ndarray, shape (len(sources), n), optional
        Dense result (``inf`` beyond the cutoff), written in place. When the first block sweeps
        more than :data:`FULL_SWEEP_SHARE` of the network, the full sweep (:func:`many_to_all`),
        faster there, answers the remaining sources.

    Returns
    -------
    None when ``out`` is given, else ``(counts, nodes, times)``: per source (in the given order)
    the number of nodes within the cutoff, then their original positions and times, source
    after source (positions within a source unsorted).
    """
    sources = np.asarray(sources, np.int64)
    prepare(h, cutoff)
    arrays = (h.n_core, h.up_ptr, h.up_ind, h.up_w, h.down_ptr, h.down_par, h.down_w, h.child_ptr, h.child_ind,
              h.child_w, h.table, *_near_rows(h, cutoff), h.node_of)
    order = np.argsort(h.home[sources], kind="stable")
    internal = h.internal[sources[order]]
    cutoff = float(cutoff)
    if not len(sources):
        return None if out is not None else (np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0))
    # the first block runs alone: dense, it tells whether the full sweep is faster; sparse, how
    # much room the others need
    first = slice(0, LANES)
    scratch = {0: _scratch(h)}  # per thread; the first block's serves the first thread
    if out is not None:
        swept = _within_dense(*arrays, internal[first], order[first], cutoff, out, *scratch[0])
        if swept > FULL_SWEEP_SHARE * h.n:  # the full sweep answers every source (the first few again)
            many_to_all(h, sources, None, cutoff, out)
            return None
        parts = []
    else:
        parts = [(first, _within_sparse(*arrays, internal[first], cutoff, *scratch[0], *_room(LANES * h.n)))]
        if parts[0][1][3] > FULL_SWEEP_SHARE * h.n:  # the full sweep, in blocks of rows, then sparse
            return dense_rows(lambda lo, hi, block: many_to_all(h, sources[lo:hi], None, cutoff, block),
                              len(sources), h.n, cutoff)
    done = len(order[first])
    # room per source: 4× the first block's mean reach (untouched room costs no memory; a run
    # that needs more grows its arrays)
    per_source = min(h.n, 4 * int(np.mean(parts[0][1][0])) + 1024) if parts else 0
    workers = max(1, min(numba.get_num_threads(), -(-(len(sources) - done) // LANES)))
    # runs of whole blocks, a few per thread (load balance), each thread with its own scratch
    per = max(1, -(-(len(sources) - done) // (LANES * 4 * workers))) * LANES
    runs = [slice(i, i + per) for i in range(done, len(sources), per)]

    def work(w):
        mine = scratch.get(w) or _scratch(h)
        if out is not None:
            for r in runs[w::workers]:
                _within_dense(*arrays, internal[r], order[r], cutoff, out, *mine)
            return []
        return [(r, _within_sparse(*arrays, internal[r], cutoff, *mine, *_room(len(internal[r]) * per_source)))
                for r in runs[w::workers]]

    with ThreadPoolExecutor(workers) as pool:
        parts += [x for part in pool.map(work, range(workers)) for x in part]
        if out is not None:
            return None
        # each run's rows (sources in home order) copied to their place among the given order
        parts.sort(key=lambda x: x[0].start)
        counts = np.empty(len(sources), np.int64)
        counts[order] = np.concatenate([x[1][0] for x in parts])
        seg_to = np.concatenate([[0], np.cumsum(counts)[:-1]])[order]
        nodes = np.empty(int(counts.sum()), np.int32)
        values = np.empty(len(nodes), np.float64)

        def copy(w):
            for r, (c, part_nodes, part_values, _) in parts[w::workers]:
                _gather(part_nodes, part_values, np.concatenate([[0], np.cumsum(c)[:-1]]), c, seg_to[r], nodes,
                        values)

        list(pool.map(copy, range(workers)))
    return counts, nodes, values


def dense_rows(fill, n_sources: int, width: int, cutoff: float, cells: int = 1 << 24):
    """Sparse rows (as :func:`many_within`) of a dense computation run in blocks of rows.

    ``fill(lo, hi, block)`` writes the times of sources ``lo:hi`` into ``block`` (``inf`` beyond
    the cutoff); blocks hold at most ``cells`` times, so memory stays bounded.
    """
    step = max(1, cells // max(width, 1))
    block = np.empty((min(step, n_sources), width))
    counts = np.zeros(n_sources, np.int64)
    nodes, values = np.zeros(0, np.int32), np.zeros(0)
    used = 0
    for lo in range(0, n_sources, step):
        hi = min(lo + step, n_sources)
        part = block[:hi - lo]
        fill(lo, hi, part)
        counts[lo:hi] = _count_within(part, cutoff)
        need = used + int(counts[lo:hi].sum())
        if need > len(nodes):  # room for this block and, at the same density, all the rest
            size = need + (n_sources - hi) * (need - used) // (hi - lo)
            grown = np.empty(size, np.int32), np.empty(size)
            grown[0][:used], grown[1][:used] = nodes[:used], values[:used]
            nodes, values = grown
        _rows_within(part, cutoff, nodes[used:need], values[used:need])
        used = need
    return counts, nodes[:used], values[:used]


@njit(cache=True, nogil=True)
def _count_within(block, cutoff):
    counts = np.zeros(len(block), np.int64)
    for i in range(len(block)):
        for v in range(block.shape[1]):
            if block[i, v] <= cutoff:
                counts[i] += 1
    return counts


@njit(cache=True, nogil=True)
def _rows_within(block, cutoff, nodes, values):
    """The times within the cutoff of a dense block, row after row, into ``nodes``/``values``."""
    k = 0
    for i in range(len(block)):
        for v in range(block.shape[1]):
            if block[i, v] <= cutoff:
                nodes[k] = v
                values[k] = block[i, v]
                k += 1


def _room(size: int) -> tuple[np.ndarray, ...]:
    """Empty ``(nodes, values)`` arrays for :func:`_within_sparse` (pages touched only when written)."""
    return np.empty(size, np.int32), np.empty(size, np.float64)
