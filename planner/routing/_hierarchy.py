"""Contracted road graph for many-source travel times (private engine of :mod:`planner.routing`).

Why
---
A one-to-all Dijkstra on the SE-Beijing network settles ~26k nodes through a binary heap; most of
them are pass-through nodes of roads (one-way and two-way chains), dead-end spurs and small
junctions. Contracting them once per CSR lets every later source replace most of the heap work by
a linear sweep.

How (a contraction hierarchy with a core, queried PHAST-style)
--------------------------------------------------------------
Build, once per CSR (:func:`build_hierarchy`):

1. Contract nodes in rounds (:mod:`planner.routing._contract`, on all numba threads): each round
   takes the nodes whose priority is below that of all their neighbours (an independent set),
   computes their shortcuts in parallel and applies them. Priority = shortcuts added − arcs
   removed + contracted neighbours + level (1 + the highest level among contracted neighbours;
   it spreads the contraction evenly over the map, which keeps the upward searches small).
   Contracting ``v`` adds, for every pair ``u → v → x``, the shortcut ``u → x`` of weight
   ``w(u, v) + w(v, x)`` unless a witness search (a Dijkstra from ``u`` avoiding every node of
   the round, bounded by the via time and by a number of settled nodes) finds a path ``u → x``
   that is no longer (skipping a shortcut is only an optimisation: adding too many is always
   correct). Priorities are kept up to date lazily: contracting a node only raises its
   neighbours' contracted-neighbour and level terms; a selected node's shortcuts are counted
   afresh and it waits for a later round if it is no longer below its neighbours. The arcs ``v``
   has when it is contracted are kept: *up* arcs ``v → x`` and *down* arcs ``u → v``, both to
   nodes contracted later (or to the core). Adjacency rows grow as needed (no degree cap), so
   every graph can be contracted; the result does not depend on the number of threads.
2. Stop at the *core*: when the remaining graph has become dense (average
   degree ≥ :data:`DENSE_DEGREE`, where every further contraction costs many witness searches and
   shortcuts) and at most :data:`CORE_MAX` nodes remain, or when :data:`CORE_MIN` remain. The
   core's all-pairs times are tabulated (8·n_core² bytes) on first use, each row a Dijkstra
   bounded by the query's cutoff (:func:`prepare`; at 4×4, 45 minutes cost ~1/7 of the full
   table). The rule depends on the graph, not on a fixed count: the demo network (30k nodes)
   and a 4×4 tiling of it (476k) both end with a core of a few hundred to a few thousand nodes
   (``benchmarks/run.py routing_scale``).

Query from a source ``s`` (:func:`many_to_all`):

1. *Upward*: Dijkstra from ``s`` over up arcs only — a few dozen to a few hundred nodes, ending at
   core entries.
2. *Core*: time of every core node = min over entries ``e`` of ``up(s, e) + table[e, c]``.
3. *Downward sweep*: contracted nodes in reverse contraction order (or any order that keeps the
   tail of every down arc before its head),
   ``t(v) = min(t(v), t(u) + w(u → v))`` over the down arcs of ``v``; every ``u`` is final by then.

With a subset of targets only the contracted nodes they depend on are swept (restricted PHAST);
with a cutoff and every node as a target, only the nodes within it (:mod:`planner.routing._within`).

Every shortest path is an up-path, a core path, then a down-path in this order, so the sweep is
exact (times differ from a plain Dijkstra only by floating-point summation order, ~1e-12 s).
:data:`BLOCK` sources share one sweep (one cache line of times per node), so arc data are read
once per block and the min/add vectorise.

Before contracting, nodes are renumbered in reverse Cuthill-McKee order (neighbours get close
numbers, so the witness searches touch nearby memory). Internal numbering: core nodes
``0 .. n_core-1`` in depth-first order over the core's arcs, then contracted nodes in sweep order
(by depth in the down-arc DAG, then by *home* — the core node a node's cheapest arcs lead up to —
then by number), so the sweep walks the arrays front to back and the nodes of one neighbourhood
sit in a few runs of positions (what the bounded sweep of :mod:`planner.routing._within`, for
queries with a cutoff, relies on).
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from numba import njit, prange
from scipy.sparse.csgraph import reverse_cuthill_mckee

from planner.routing._contract import contract
from planner.routing._heap import pop, push

#: Contraction always goes on while more than this many nodes remain.
CORE_MIN = 512
#: ... and stops at the latest when the remaining graph is this dense (arcs per node, both
#: directions counted once each) and at most CORE_MAX nodes remain.
DENSE_DEGREE = 12.0
#: A remainder this dense with more than CORE_MAX nodes left is given up (see below); road networks
#: stay far below it (the 2×2 tiling of the demo network reaches DENSE_DEGREE at ~1,900 nodes).
GIVE_UP_DEGREE = 24.0
#: Largest core tabulated (8·CORE_MAX² bytes = 128 MB); a graph whose remainder is dense with more
#: nodes than this (not a road network) gets no hierarchy and the plain engine, with that reason.
CORE_MAX = 4096
#: Positions summarised by one flag of the bounded sweep's span map (planner.routing._within).
SPAN = 64
#: Sources that share one downward sweep (8 float64 = one 64-byte cache line per node).
BLOCK = 8
#: Witness searches settle at most this many nodes when contracting (the first estimate of every
#: node uses a 1-node search; neighbours of a contracted node are updated lazily).
_WITNESS_SETTLE = 40
#: Entries of the witness-search heap; a search that fills it stops pushing (which can only add
#: an unneeded shortcut, never a wrong time).
_WITNESS_HEAP = 1 << 16
#: Hierarchies kept in memory (one per profile and direction in a typical run).
CACHE_SIZE = 6


@dataclass(frozen=True)
class Hierarchy:
    """A contracted graph ready for :func:`many_to_all`.

    Attributes
    ----------
    n, n_core : int
        Nodes in the graph and in the uncontracted core.
    internal : ndarray of int64, shape (n,)
        Internal position of every original node (core first, then the contracted nodes in sweep
        order).
    up_ptr, up_ind, up_w : ndarray
        CSR over internal positions of the up arcs (empty rows for core nodes).
    down_ptr, down_par, down_w : ndarray
        For contracted node ``n_core + i``: its down arcs ``down_par[k] → n_core + i`` for
        ``k in down_ptr[i]:down_ptr[i+1]``.
    core_ptr, core_ind, core_w : ndarray
        CSR over internal positions of the arcs among core nodes.
    table : ndarray of float64, shape (n_core, n_core)
        Core-to-core travel times (``inf`` = unreachable, or beyond ``table_bound``), filled on
        first use by :func:`prepare` (one Dijkstra per core node, bounded by the cutoff asked for).
    table_bound : ndarray of float64, shape (1,)
        The times up to which ``table`` is exact (``-1``: not filled yet; ``inf``: all).
    child_ptr, child_ind, child_w : ndarray
        The down arcs again, by tail: CSR over all internal positions (core nodes included) of
        ``tail → head`` (for the bounded sweep: a reached node marks the children it leads to).
    node_of : ndarray of int64, shape (n,)
        Original node of every internal position (inverse of ``internal``).
    home : ndarray of int64, shape (n,)
        By original node: the position of its home core node (``-1``: none); nodes with close
        values lie close together, so sources sorted by it share their bounded sweeps.
    build_s : float
        Wall-clock seconds spent building.
    near : dict
        Working data of the bounded query (:mod:`planner.routing._within`): the core table's
        rows as sorted sparse rows, built on first use.
    """

    n: int
    n_core: int
    internal: np.ndarray
    up_ptr: np.ndarray
    up_ind: np.ndarray
    up_w: np.ndarray
    down_ptr: np.ndarray
    down_par: np.ndarray
    down_w: np.ndarray
    core_ptr: np.ndarray
    core_ind: np.ndarray
    core_w: np.ndarray
    table: np.ndarray
    table_bound: np.ndarray
    child_ptr: np.ndarray
    child_ind: np.ndarray
    child_w: np.ndarray
    node_of: np.ndarray
    home: np.ndarray
    build_s: float
    near: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return sum(a.nbytes for a in (self.internal, self.up_ptr, self.up_ind, self.up_w, self.down_ptr,
                                      self.down_par, self.down_w, self.core_ptr, self.core_ind, self.core_w,
                                      self.table, self.child_ptr, self.child_ind,
                                      self.child_w, self.node_of, self.home))


# ------------------------------------------------------------------------------------ cache
_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()


def not_contractible(csr) -> str | None:
    """Why :func:`build_hierarchy` does not apply to ``csr`` (``None`` if it does)."""
    if csr.shape[0] == 0 or csr.nnz == 0:
        return "empty graph"
    if np.any(csr.data < 0):  # NaN compares False: such arcs are ignored like in the plain kernel
        return "negative travel times"
    return None


def cached(csr, core_size: int | None = None):
    """The cached ``(hierarchy, reason)`` of ``csr`` if one was built, else ``None`` (no build)."""
    key = (_digest(csr), core_size)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    return None


def hierarchy_for(csr, core_size: int | None = None) -> tuple[Hierarchy | None, str]:
    """The (cached) hierarchy of a CSR matrix of travel times, built if needed.

    The cache is keyed by a digest of the matrix content, so an edited matrix is rebuilt; a graph
    that cannot be contracted is remembered as such (with its reason) and not tried again.

    Returns
    -------
    hierarchy : Hierarchy or None
    reason : str
        Why there is no hierarchy (``""`` when there is one).
    """
    key = (_digest(csr), core_size)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    result = build_hierarchy(csr, core_size)
    with _lock:
        _cache[key] = result
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def _digest(csr) -> bytes:
    """Content digest of a CSR matrix (paid by every query: SHA-256 reads the arrays in place).

    SHA-256 runs on the CPU's SHA extensions here: 13 ms for the 4×4 tiling's arrays (17 MB),
    against 32 ms for the BLAKE2b of a copy it replaced (``benchmarks/run.py routing_scale`` makes
    four queries per 1,000 sources).
    """
    h = hashlib.sha256(np.asarray(csr.shape, np.int64).tobytes())
    for a in (csr.indptr, csr.indices, csr.data):
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode())
        h.update(a.reshape(-1).view(np.uint8).data)
    return h.digest()


# ------------------------------------------------------------------------------------ build
def build_hierarchy(csr, core_size: int | None = None) -> tuple[Hierarchy | None, str]:
    """Contract ``csr`` down to its core (see module docstring).

    Parameters
    ----------
    csr : scipy.sparse CSR matrix
        Arc travel times (seconds, non-negative); self-loops, ``inf``/NaN arcs are ignored and
        parallel arcs keep the fastest, as in a plain Dijkstra.
    core_size : int, optional
        Stop contracting when this many nodes remain (``0``: contract everything). By default the
        core is chosen by the graph's density (:data:`CORE_MIN`, :data:`DENSE_DEGREE`,
        :data:`CORE_MAX`).

    Returns
    -------
    hierarchy : Hierarchy or None
        ``None`` when the graph is not contractible (negative or no arcs) or its dense remainder
        has more than :data:`CORE_MAX` nodes.
    reason : str
        Why there is no hierarchy; ``""`` when there is one.
    """
    reason = not_contractible(csr)
    if reason:
        return None, reason
    t0 = time.perf_counter()
    n = csr.shape[0]
    # number the nodes so that neighbours are close (reverse Cuthill-McKee): the contraction's
    # searches then touch nearby memory (~20 % faster on a 476k-node network)
    perm = reverse_cuthill_mckee((csr + csr.T).tocsr(), symmetric_mode=True).astype(np.int64)
    csr = csr[perm][:, perm].tocsr()
    if core_size is None:
        stop_min, stop_max, dense, give_up = CORE_MIN, CORE_MAX, DENSE_DEGREE, GIVE_UP_DEGREE
    else:
        stop_min = stop_max = int(core_size)
        dense = give_up = np.inf
    order, ptr, ln, nb, w = contract(
        n, csr.indptr.astype(np.int64), csr.indices.astype(np.int64), csr.data.astype(np.float64),
        stop_min, stop_max, dense, give_up, _WITNESS_SETTLE, _WITNESS_HEAP,
    )
    contracted = np.zeros(n, bool)
    contracted[order] = True
    core = np.flatnonzero(~contracted)
    n_core = len(core)
    if n_core > max(CORE_MAX, stop_max):
        return None, (f"the contraction left a dense core of {n_core:,} nodes (more than {CORE_MAX:,}): "
                      "not a road-like graph")
    # the core in depth-first order over its arcs, cheapest arc first: consecutive core nodes are
    # mostly neighbours, so the order follows the map
    core_pos = np.full(n, -1, np.int64)
    core_pos[core] = np.arange(n_core)
    core = core[_depth_first(*_pack(ptr, ln, nb, w, core, core_pos))]
    # every node's home: the core node its cheapest up (or down) arcs lead to; nodes with the same
    # home lie together, and homes follow the depth-first order, so sorting by home keeps
    # neighbours close
    home_rank = np.full(n, -1, np.int64)
    home_rank[core] = np.arange(n_core)
    _homes(order, ptr, ln, nb, w, n, home_rank)
    # sweep order: by depth in the down-arc DAG (1 + deepest tail; as valid as reverse contraction
    # order), then by home, then by original position — a ball of nearby nodes is then a few runs
    # of consecutive positions per depth
    downward = order[::-1]
    depth = _depths(downward, ptr, ln, nb, n)
    downward = downward[np.lexsort((downward, home_rank[downward], depth))]
    internal = np.empty(n, np.int64)
    internal[core] = np.arange(n_core)
    internal[downward] = n_core + np.arange(len(downward))
    by_internal = np.concatenate([core, downward])

    up_rows = np.where(contracted[by_internal], by_internal, -1)  # core nodes: no up arcs
    up_ptr, up_ind, up_w = _pack(ptr, ln, nb, w, up_rows, internal)
    core_ptr, core_ind, core_w = _pack(ptr, ln, nb, w, core, internal)
    down_ptr, down_par, down_w = _pack(ptr, ln, nb, w, downward + n, internal)
    child_ptr, child_ind, child_w = _by_tail(n, n_core, down_ptr, down_par, down_w)
    renumbered = np.empty(n, np.int64)  # original node → its number during the build
    renumbered[perm] = np.arange(n)
    return Hierarchy(n, n_core, internal[renumbered], up_ptr, up_ind, up_w, down_ptr, down_par, down_w,
                     core_ptr, core_ind, core_w, np.empty((n_core, n_core)), np.array([-1.0]),
                     child_ptr, child_ind, child_w, perm[by_internal], home_rank[renumbered],
                     time.perf_counter() - t0), ""


@njit(cache=True, nogil=True)
def _depth_first(ptr, ind, w):
    """Nodes of a graph (CSR) in depth-first preorder, cheapest arc first, from node 0 onwards."""
    nc = len(ptr) - 1
    seen = np.zeros(nc, np.bool_)
    out = np.empty(nc, np.int64)
    stack = np.empty(len(ind) + nc, np.int64)
    n_out = 0
    for root in range(nc):
        if seen[root]:
            continue
        stack[0] = root
        top = 1
        while top > 0:
            top -= 1
            v = stack[top]
            if seen[v]:
                continue
            seen[v] = True
            out[n_out] = v
            n_out += 1
            arcs = np.arange(ptr[v], ptr[v + 1])
            for a in arcs[np.argsort(-w[arcs])]:  # costliest pushed first: cheapest popped first
                if not seen[ind[a]]:
                    stack[top] = ind[a]
                    top += 1
    return out


@njit(cache=True, nogil=True)
def _homes(order, ptr, ln, nb, w, n, home_rank):
    """Fill ``home_rank`` of contracted nodes (core nodes set) from their cheapest arc to a later node."""
    for i in range(len(order) - 1, -1, -1):
        v = order[i]
        best = np.inf
        for r in (v, n + v):
            for a in range(ptr[r], ptr[r] + ln[r]):
                x = nb[a]
                if home_rank[x] >= 0 and (w[a] < best or home_rank[v] < 0):
                    best = w[a]
                    home_rank[v] = home_rank[x]


@njit(cache=True, nogil=True)
def _by_tail(n, n_core, down_ptr, down_par, down_w):
    """Down arcs (rows by head) regrouped by tail: CSR over all ``n`` internal positions."""
    ptr = np.zeros(n + 1, np.int64)
    for k in range(len(down_par)):
        ptr[down_par[k] + 1] += 1
    for v in range(n):
        ptr[v + 1] += ptr[v]
    fill = ptr[:-1].copy()
    ind = np.empty(len(down_par), np.int32)
    wt = np.empty(len(down_par), np.float64)
    for i in range(len(down_ptr) - 1):
        for k in range(down_ptr[i], down_ptr[i + 1]):
            t = down_par[k]
            ind[fill[t]] = n_core + i
            wt[fill[t]] = down_w[k]
            fill[t] += 1
    return ptr, ind, wt


@njit(cache=True, nogil=True)
def _depths(downward, ptr, ln, nb, n):
    """Depth of each contracted node (in ``downward`` order): 1 + the deepest tail of its down arcs."""
    depth = np.zeros(n, np.int64)  # core nodes: 0
    for v in downward:
        d = 0
        r = n + v
        for a in range(ptr[r], ptr[r] + ln[r]):
            d = max(d, depth[nb[a]])
        depth[v] = d + 1
    return depth[downward]


@njit(cache=True, nogil=True)
def _pack(ptr, ln, nb, w, rows, internal):
    """Adjacency rows (``-1``: an empty row) → CSR (pointer, internal neighbour, weight)."""
    out_ptr = np.zeros(len(rows) + 1, np.int64)
    for i in range(len(rows)):
        out_ptr[i + 1] = out_ptr[i] + (ln[rows[i]] if rows[i] >= 0 else 0)
    ind = np.empty(out_ptr[-1], np.int32)
    wt = np.empty(out_ptr[-1], np.float64)
    for i in range(len(rows)):
        r = rows[i]
        for k in range(out_ptr[i + 1] - out_ptr[i]):
            ind[out_ptr[i] + k] = internal[nb[ptr[r] + k]]
            wt[out_ptr[i] + k] = w[ptr[r] + k]
    return out_ptr, ind, wt


def prepare(h: Hierarchy, cutoff: float) -> None:
    """Make the core table of ``h`` exact up to ``cutoff`` (a no-op when it already is).

    A query bounded by a cutoff needs core-to-core times only up to it: one Dijkstra per core
    node, stopped at the cutoff, costs a small share of the full table (≈ the share of the core
    within the cutoff). Called by every query; the first with a larger cutoff (or none) pays.
    """
    with _lock:
        if h.table_bound[0] < cutoff:
            _core_table(h.core_ptr, h.core_ind, h.core_w, float(cutoff), h.table)
            h.table_bound[0] = cutoff


@njit(cache=True, parallel=True)
def _core_table(ptr, ind, w, bound, table):
    """Travel times among the core, each row a Dijkstra bounded by ``bound`` (``inf`` beyond)."""
    nc = len(ptr) - 1
    for c in prange(nc):
        heap_d = np.empty(len(ind) + 1, np.float64)
        heap_v = np.empty(len(ind) + 1, np.int64)
        _dijkstra_one(ptr, ind, w, c, bound, table[c], heap_d, heap_v)


# ------------------------------------------------------------------------------------ query
def many_to_all(h: Hierarchy, sources, targets, cutoff: float, out: np.ndarray) -> None:
    """Travel times from ``sources`` to ``targets`` (all nodes if ``None``) into ``out``.

    Parameters
    ----------
    h : Hierarchy
    sources : ndarray of int64
        Original node positions.
    targets : ndarray of int64 or None
    cutoff : float
        Times above it are written as ``inf``.
    out : ndarray of float64 or float32, shape (len(sources), len(targets) or n)
        Written in place, every cell (times are computed in float64).
    """
    prepare(h, cutoff)
    if targets is None:
        target_pos = h.internal
        sweep = np.arange(h.n_core, h.n)
    else:  # sweep only the nodes the targets depend on
        target_pos = h.internal[targets]
        sweep = needed(h, targets)
    _many(h.n_core, h.up_ptr, h.up_ind, h.up_w, h.down_ptr, h.down_par, h.down_w, h.table,
          h.internal[sources], float(cutoff), target_pos, sweep, out)


def needed(h: Hierarchy, targets) -> np.ndarray:
    """Internal positions of the contracted nodes whose times ``targets`` depend on, in sweep order."""
    return _needed(h.n_core, h.down_ptr, h.down_par, h.internal[np.asarray(targets, np.int64)])


@njit(cache=True, nogil=True)
def _needed(n_core, down_ptr, down_par, target_pos):
    """Contracted nodes whose times the targets depend on (through down arcs), in sweep order."""
    n = n_core + len(down_ptr) - 1
    need = np.zeros(n, np.bool_)
    for v in target_pos:
        need[v] = True
    for v in range(n - 1, n_core - 1, -1):  # heads before tails
        if need[v]:
            for k in range(down_ptr[v - n_core], down_ptr[v - n_core + 1]):
                need[down_par[k]] = True
    return np.flatnonzero(need[n_core:]) + n_core


@njit(cache=True, nogil=True)
def upward(up_ptr, up_ind, up_w, n_core, s, cutoff, times, j, heap_d, heap_v, entries, mark, span):
    """Dijkstra from ``s`` over up arcs into column ``j`` of ``times``; returns the core entries.

    Every contracted node settled is marked in ``mark`` and in ``span`` (one flag per
    :data:`SPAN` positions) unless ``mark`` is empty (the full sweep visits every node anyway).
    """
    n_entries = 0
    times[s, j] = 0.0
    size = push(heap_d, heap_v, 0, 0.0, s)
    while size > 0:
        d = heap_d[0]
        u = heap_v[0]
        size = pop(heap_d, heap_v, size)
        if d > times[u, j]:
            continue
        if u < n_core:
            entries[n_entries] = u
            n_entries += 1
            continue
        if len(mark):
            mark[u] = True
            span[u // SPAN] = True
        for k in range(up_ptr[u], up_ptr[u + 1]):
            x = up_ind[k]
            nd = d + up_w[k]
            if nd < times[x, j] and nd <= cutoff:
                times[x, j] = nd
                size = push(heap_d, heap_v, size, nd, x)
    return n_entries


@njit(cache=True, nogil=True)
def _block(n_core, up_ptr, up_ind, up_w, down_ptr, down_par, down_w, table, sources, cutoff,
           target_pos, sweep, out, times, heap_d, heap_v, entries):
    """Up to :data:`BLOCK` sources: upward searches, core table, one shared sweep, output rows."""
    times[:, :] = np.inf
    no_marks = np.zeros(0, np.bool_)  # the full sweep visits every node: nothing to mark
    for j in range(len(sources)):
        n_entries = upward(up_ptr, up_ind, up_w, n_core, sources[j], cutoff, times, j, heap_d, heap_v, entries,
                           no_marks, no_marks)
        for e in range(n_entries):
            c0 = entries[e]
            t0 = times[c0, j]
            row = table[c0]
            for c in range(n_core):
                t = t0 + row[c]
                if t < times[c, j]:
                    times[c, j] = t
    for v in sweep:
        for k in range(down_ptr[v - n_core], down_ptr[v - n_core + 1]):
            p = down_par[k]
            w = down_w[k]
            for j in range(BLOCK):
                times[v, j] = min(times[v, j], times[p, j] + w)
    for t in range(len(target_pos)):
        v = target_pos[t]
        for j in range(len(sources)):
            x = times[v, j]
            out[j, t] = x if x <= cutoff else np.inf


@njit(cache=True, parallel=True)
def _many(n_core, up_ptr, up_ind, up_w, down_ptr, down_par, down_w, table, sources, cutoff, target_pos, sweep,
          out):
    """:func:`_block` over all sources, blocks spread over threads."""
    n = len(up_ptr) - 1
    n_blocks = (len(sources) + BLOCK - 1) // BLOCK
    n_chunks = min(n_blocks, 64)
    for c in prange(n_chunks):
        times = np.empty((n, BLOCK), np.float64)
        heap_d = np.empty(len(up_ind) + 1, np.float64)
        heap_v = np.empty(len(up_ind) + 1, np.int64)
        entries = np.empty(n_core + 1, np.int64)
        for b in range(c, n_blocks, n_chunks):
            lo = b * BLOCK
            hi = min(lo + BLOCK, len(sources))
            _block(n_core, up_ptr, up_ind, up_w, down_ptr, down_par, down_w, table, sources[lo:hi], cutoff,
                   target_pos, sweep, out[lo:hi], times, heap_d, heap_v, entries)


@njit(cache=True, nogil=True)
def _dijkstra_one(indptr, indices, weights, source, cutoff, dist, heap_d, heap_v):
    """Single-source Dijkstra with a lazy-deletion binary heap; fills ``dist`` in place."""
    dist[:] = np.inf
    dist[source] = 0.0
    size = 1
    heap_d[0] = 0.0
    heap_v[0] = source
    while size > 0:
        d = heap_d[0]
        u = heap_v[0]
        size = pop(heap_d, heap_v, size)
        if d > dist[u]:
            continue  # stale entry
        for k in range(indptr[u], indptr[u + 1]):
            w = indices[k]
            nd = d + weights[k]
            if nd < dist[w] and nd <= cutoff:
                dist[w] = nd
                size = push(heap_d, heap_v, size, nd, w)
