"""Road network QA and repair: connectivity report, synthetic connectors, giant component.

Pure functions on the node and edge tables of a road network (see docs/DESIGN.md, RoadNetwork):

- ``nodes``: DataFrame whose rows are node positions ``0..n-1`` (row order, not labels), with
  ``node_id``, ``lon``, ``lat`` and metric ``x``, ``y`` (``x``/``y`` needed only for repair).
- ``edges``: DataFrame or GeoDataFrame with ``u``, ``v`` (0-based node positions),
  ``length_m``; optional ``road_class``, ``oneway``, ``repaired``, ``from_node``/``to_node``,
  geometry and any other columns (kept).

"One-way" here always means the network's own definition: no reverse edge ``v -> u`` exists.
Components come from :func:`scipy.sparse.csgraph.connected_components`; the giant strongly
connected component (SCC) is the one with the most nodes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from planner.errors import InputError, NetworkError

#: ``road_class`` of the synthetic edges added by :func:`repair_dangling`.
CONNECTOR_CLASS = "connector"

#: Columns that :func:`repair_dangling` fills itself on connector rows.
_CONNECTOR_FILLED = ("u", "v", "length_m", "road_class", "oneway", "repaired", "from_node",
                     "to_node")


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def qa_report(nodes, edges):
    """Connectivity and attribute QA of a directed road network.

    Parameters
    ----------
    nodes : pandas.DataFrame
        One row per node position ``0..n-1`` (``node_id`` used in the tables when present).
    edges : pandas.DataFrame
        ``u``, ``v``, ``length_m``; ``road_class`` optional (all edges count as unclassified
        without it).

    Returns
    -------
    dict
        Scalars:

        - ``nodes``, ``edges``, ``km``: size of the network.
        - ``strong_components``, ``weak_components``: number of components (isolated nodes
          count as components).
        - ``giant``: dict ``nodes``, ``edges``, ``km``, ``share_nodes``, ``share_edges``,
          ``share_km`` of the largest strongly connected component (an edge belongs to it when
          both its ends do).
        - ``dead_ends``: dict ``sinks`` (out-degree 0, in-degree > 0), ``sources`` (in-degree
          0, out-degree > 0), ``degree1`` (one distinct neighbour, either direction),
          ``isolated`` (no edge at all).
        - ``fragments``: dict about the pieces outside the giant SCC (weakly connected groups
          of non-giant nodes, each with the edges touching them): ``count``, ``edges``,
          ``km``; ``oneway_dead`` / ``oneway_dead_edges`` / ``oneway_dead_km``: fragments
          whose edges are all one-way and that have no way on or no way off the giant SCC
          (e.g. an expressway carriageway whose ramps are missing); ``islands`` /
          ``islands_km``: fragments with neither.
        - ``unclassified``: dict ``edges``, ``km`` of edges without ``road_class``.

        Tables (the rest of the dict is JSON-friendly scalars and dicts):

        - ``dead_end_nodes``: DataFrame, one row per sink, source or degree-1 node: ``node``
          (position), ``node_id``, ``in_degree``, ``out_degree``, ``neighbours``, ``sink``,
          ``source``, ``degree1``, ``in_giant``.
        - ``fragment_table``: DataFrame, one row per fragment, largest first: ``fragment``,
          ``nodes``, ``edges``, ``km``, ``oneway_share`` (of its edges), ``entries`` (edges
          from the giant SCC into it), ``exits`` (edges from it to the giant SCC),
          ``oneway_dead``, ``island``.

    See Also
    --------
    giant_component : the giant SCC as node and edge masks.
    """
    n, u, v, length = _arrays(nodes, edges)
    m = u.size
    km = length / 1000.0
    total_km = float(km.sum())
    n_strong, giant = _giant_mask(n, u, v)
    n_weak = connected_components(_adjacency(n, u, v), directed=False)[0] if n else 0
    edge_in_giant = giant[u] & giant[v]

    indeg = np.bincount(v, minlength=n)
    outdeg = np.bincount(u, minlength=n)
    neighbours = _neighbour_counts(n, u, v)
    sink = (outdeg == 0) & (indeg > 0)
    source = (indeg == 0) & (outdeg > 0)
    degree1 = neighbours == 1
    flagged = np.flatnonzero(sink | source | degree1)
    node_ids = _node_ids(nodes)
    dead_end_nodes = pd.DataFrame({
        "node": flagged,
        "node_id": node_ids[flagged],
        "in_degree": indeg[flagged],
        "out_degree": outdeg[flagged],
        "neighbours": neighbours[flagged],
        "sink": sink[flagged],
        "source": source[flagged],
        "degree1": degree1[flagged],
        "in_giant": giant[flagged],
    })

    fragment_table = _fragments(n, u, v, km, giant)
    dead = fragment_table["oneway_dead"].to_numpy(bool)
    island = fragment_table["island"].to_numpy(bool)

    cls = edges["road_class"] if "road_class" in edges else pd.Series(None, index=edges.index)
    text = cls.astype(object).astype("string").str.strip()
    no_class = (text.isna() | text.eq("")).to_numpy(bool)

    giant_km = float(km[edge_in_giant].sum())
    return {
        "nodes": int(n),
        "edges": int(m),
        "km": total_km,
        "strong_components": int(n_strong),
        "weak_components": int(n_weak),
        "giant": {
            "nodes": int(giant.sum()),
            "edges": int(edge_in_giant.sum()),
            "km": giant_km,
            "share_nodes": _share(giant.sum(), n),
            "share_edges": _share(edge_in_giant.sum(), m),
            "share_km": _share(giant_km, total_km),
        },
        "dead_ends": {
            "sinks": int(sink.sum()),
            "sources": int(source.sum()),
            "degree1": int(degree1.sum()),
            "isolated": int(((indeg == 0) & (outdeg == 0)).sum()),
        },
        "fragments": {
            "count": int(len(fragment_table)),
            "edges": int(fragment_table["edges"].sum()),
            "km": float(fragment_table["km"].sum()),
            "oneway_dead": int(dead.sum()),
            "oneway_dead_edges": int(fragment_table.loc[dead, "edges"].sum()),
            "oneway_dead_km": float(fragment_table.loc[dead, "km"].sum()),
            "islands": int(island.sum()),
            "islands_km": float(fragment_table.loc[island, "km"].sum()),
        },
        "unclassified": {"edges": int(no_class.sum()), "km": float(km[no_class].sum())},
        "dead_end_nodes": dead_end_nodes,
        "fragment_table": fragment_table,
    }


def giant_component(nodes, edges):
    """Masks of the largest strongly connected component (most nodes).

    Parameters
    ----------
    nodes : pandas.DataFrame
        Node positions ``0..n-1``.
    edges : pandas.DataFrame
        ``u``, ``v``, ``length_m``.

    Returns
    -------
    node_mask : numpy.ndarray of bool, shape (n,)
    edge_mask : numpy.ndarray of bool, shape (m,)
        True for edges with both ends in the component.
    """
    n, u, v, _ = _arrays(nodes, edges)
    giant = _giant_mask(n, u, v)[1]
    return giant, giant[u] & giant[v]


def repair_dangling(nodes, edges, tolerance_m=200.0, only_nodes=None, candidates=None, k=4):
    """Join dangling nodes outside the giant SCC to it with short synthetic connectors.

    For every node outside the giant strongly connected component:

    - out-degree 0 (a dead end one cannot leave, e.g. the end of a one-way carriageway):
      one connector **from** it **to** the nearest giant-SCC node;
    - in-degree 0 (a start one cannot reach): one connector **from** the nearest giant-SCC
      node **to** it;
    - flagged in ``candidates`` (e.g. ``ramp_attach_inferred`` junctions where a missing ramp
      met an expressway carriageway): both an exit and an entry connector.

    Nearest means Euclidean distance on the metric ``x``, ``y`` (a KD-tree over the giant-SCC
    nodes), within ``tolerance_m``; a node with no giant-SCC node that close is left alone. A
    connector never joins a node to itself nor repeats an existing edge (the next nearest
    node is tried, up to ``k``). Nodes without any edge are ignored. One pass: connectors are
    only made to the giant SCC as it was before the repair.

    Parameters
    ----------
    nodes : pandas.DataFrame
        Node positions ``0..n-1`` with metric ``x``, ``y`` (and ``lon``, ``lat`` for
        geometries, ``node_id`` for ``from_node``/``to_node``).
    edges : pandas.DataFrame or geopandas.GeoDataFrame
        ``u``, ``v``, ``length_m`` and any other columns.
    tolerance_m : float, default 200.0
        Longest connector, metres.
    only_nodes : array-like of int or bool mask, optional
        Restrict the repair to these node positions.
    candidates : array-like of int or bool mask, optional
        Extra node positions that get an exit and an entry connector when outside the giant
        SCC, whatever their degrees.
    k : int, default 4
        Number of nearest giant-SCC nodes tried per node.

    Returns
    -------
    edges : same type as ``edges``
        The input rows (same order, fresh index) followed by the connectors: ``road_class``
        ``"connector"``, ``repaired=True`` (False on input rows lacking it), ``length_m`` =
        straight distance, ``oneway`` = no reverse edge (input rows become two-way when a
        connector runs opposite to them), ``from_node``/``to_node`` from ``node_id`` when
        those columns exist, straight LineString geometry (lon/lat when the CRS is
        geographic or unset, else ``x``/``y``). Other columns are missing (NaN/None/NA) on
        connectors; integer and boolean columns become pandas nullable types to hold that.
    summary : dict
        ``connectors``, ``exits``, ``entries``, ``km``, ``max_m``, ``tolerance_m``,
        ``unmatched_exits`` / ``unmatched_entries`` (nodes needing one with no giant-SCC node
        in reach), ``giant_before`` and ``giant_after`` (dicts ``nodes``, ``edges``, ``km``,
        ``share_edges``, ``share_km``).
    """
    if not tolerance_m > 0:
        raise InputError(f"tolerance_m must be positive, got {tolerance_m}")
    n, u, v, length = _arrays(nodes, edges)
    xy = _metric_xy(nodes)
    _, giant = _giant_mask(n, u, v)
    indeg = np.bincount(v, minlength=n)
    outdeg = np.bincount(u, minlength=n)
    touched = (indeg + outdeg) > 0
    extra = _node_mask(candidates, n, "candidates")
    need_exit = ~giant & touched & ((outdeg == 0) | extra)
    need_entry = ~giant & touched & ((indeg == 0) | extra)
    if only_nodes is not None:
        allowed = _node_mask(only_nodes, n, "only_nodes")
        need_exit &= allowed
        need_entry &= allowed

    giant_nodes = np.flatnonzero(giant)
    existing = _pair_keys(u, v, n)
    exit_from = np.flatnonzero(need_exit)
    entry_to = np.flatnonzero(need_entry)
    if giant_nodes.size:
        tree = cKDTree(xy[giant_nodes])
        exit_to, exit_d = _nearest_new(tree, giant_nodes, xy, exit_from, tolerance_m, k,
                                       existing, n, outgoing=True)
        entry_from, entry_d = _nearest_new(tree, giant_nodes, xy, entry_to, tolerance_m, k,
                                           existing, n, outgoing=False)
    else:
        exit_to = entry_from = np.full(0, -1, np.int64)
        exit_d = entry_d = np.zeros(0)
        exit_from = entry_to = np.zeros(0, np.int64)

    ok_exit, ok_entry = exit_to >= 0, entry_from >= 0
    cu = np.concatenate([exit_from[ok_exit], entry_from[ok_entry]]).astype(np.int64)
    cv = np.concatenate([exit_to[ok_exit], entry_to[ok_entry]]).astype(np.int64)
    cd = np.concatenate([exit_d[ok_exit], entry_d[ok_entry]])

    out = _append_connectors(nodes, edges, xy, cu, cv, cd)
    nu, nv = out["u"].to_numpy(np.int64), out["v"].to_numpy(np.int64)
    nlen = out["length_m"].to_numpy(float)
    summary = {
        "connectors": int(cu.size),
        "exits": int(ok_exit.sum()),
        "entries": int(ok_entry.sum()),
        "km": float(cd.sum() / 1000.0),
        "max_m": float(cd.max()) if cd.size else 0.0,
        "tolerance_m": float(tolerance_m),
        "unmatched_exits": int((~ok_exit).sum()),
        "unmatched_entries": int((~ok_entry).sum()),
        "giant_before": _giant_stats(n, u, v, length, giant),
        "giant_after": _giant_stats(n, nu, nv, nlen, _giant_mask(n, nu, nv)[1]),
    }
    return out, summary


def largest_strong_component(nodes, edges):
    """Restrict a network to its largest strongly connected component.

    Parameters
    ----------
    nodes : pandas.DataFrame
        Node positions ``0..n-1``.
    edges : pandas.DataFrame or geopandas.GeoDataFrame
        ``u``, ``v``, ``length_m``.

    Returns
    -------
    nodes : pandas.DataFrame
        Rows of the giant SCC in their original order, index ``0..n'-1`` (``node_id`` and all
        other columns kept).
    edges : same type as ``edges``
        Edges with both ends in it, fresh index, ``u``/``v`` renumbered to the new positions.
    dropped : dict
        ``nodes``, ``edges``, ``km`` removed and ``share_nodes``, ``share_edges``,
        ``share_km`` (share of the input removed).

    Raises
    ------
    NetworkError
        The network has no edges.
    """
    n, u, v, length = _arrays(nodes, edges)
    if u.size == 0:
        raise NetworkError("the road network has no edges; nothing to keep")
    _, giant = _giant_mask(n, u, v)
    keep_edge = giant[u] & giant[v]
    new_pos = np.full(n, -1, np.int64)
    new_pos[giant] = np.arange(int(giant.sum()))
    sub_nodes = nodes.iloc[np.flatnonzero(giant)].reset_index(drop=True)
    sub_edges = edges.iloc[np.flatnonzero(keep_edge)].reset_index(drop=True)
    sub_edges["u"] = new_pos[u[keep_edge]]
    sub_edges["v"] = new_pos[v[keep_edge]]
    km = length / 1000.0
    dropped_km = float(km[~keep_edge].sum())
    dropped = {
        "nodes": int(n - giant.sum()),
        "edges": int((~keep_edge).sum()),
        "km": dropped_km,
        "share_nodes": _share(n - giant.sum(), n),
        "share_edges": _share((~keep_edge).sum(), u.size),
        "share_km": _share(dropped_km, float(km.sum())),
    }
    return sub_nodes, sub_edges, dropped


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _arrays(nodes, edges):
    """Validate and return ``n``, ``u``, ``v`` (int64) and ``length_m`` (float)."""
    for col in ("u", "v", "length_m"):
        if col not in edges:
            raise InputError("edges table lacks a required column", column=col)
    n = len(nodes)
    u = _positions(edges["u"], n, "u")
    v = _positions(edges["v"], n, "v")
    length = pd.to_numeric(edges["length_m"], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(length) | (length < 0)
    if bad.any():
        raise InputError(
            f"{int(bad.sum())} edge(s) have a missing or negative length, first at row "
            f"{int(np.flatnonzero(bad)[0])}",
            column="length_m",
        )
    return n, u, v, length


def _positions(col, n, name):
    values = pd.to_numeric(col, errors="coerce").to_numpy(float)
    bad = ~np.isfinite(values) | (values < 0) | (values >= n) | (values != np.floor(values))
    if bad.any():
        raise InputError(
            f"{int(bad.sum())} edge(s) refer to no node position 0..{n - 1}, first at row "
            f"{int(np.flatnonzero(bad)[0])}",
            column=name,
        )
    return values.astype(np.int64)


def _metric_xy(nodes):
    for col in ("x", "y"):
        if col not in nodes:
            raise InputError("nodes table lacks metric coordinates", column=col)
    xy = nodes[["x", "y"]].to_numpy(float)
    if not np.isfinite(xy).all():
        raise InputError("nodes have missing metric coordinates", column="x")
    return xy


def _node_ids(nodes):
    if "node_id" in nodes:
        return nodes["node_id"].to_numpy()
    return np.arange(len(nodes))


def _node_mask(values, n, name):
    """Boolean mask of length n from None, a boolean mask or node positions."""
    if values is None:
        return np.zeros(n, bool)
    arr = np.asarray(values)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise InputError(f"{name} mask has {arr.size} values for {n} nodes")
        return arr.copy()
    pos = _positions(pd.Series(arr.ravel()), n, name)
    mask = np.zeros(n, bool)
    mask[pos] = True
    return mask


def _adjacency(n, u, v):
    return sp.csr_matrix((np.ones(u.size, np.int8), (u, v)), shape=(n, n))


def _giant_mask(n, u, v):
    """Number of SCCs and boolean mask of the largest one (most nodes)."""
    if n == 0:
        return 0, np.zeros(0, bool)
    count, labels = connected_components(_adjacency(n, u, v), directed=True, connection="strong")
    return count, labels == np.argmax(np.bincount(labels))


def _neighbour_counts(n, u, v):
    """Number of distinct neighbours of each node, ignoring direction and self-loops."""
    keep = u != v
    a, b = np.minimum(u[keep], v[keep]), np.maximum(u[keep], v[keep])
    pairs = np.unique(a * np.int64(n) + b)
    return np.bincount(np.concatenate([pairs // n, pairs % n]), minlength=n)


def _no_reverse(u, v, n):
    """True where no edge ``v -> u`` exists."""
    return ~np.isin(v * np.int64(n) + u, u * np.int64(n) + v)


def _pair_keys(u, v, n):
    return np.unique(u.astype(np.int64) * np.int64(n) + v)


def _share(part, whole):
    return float(part) / float(whole) if whole else 0.0


def _fragments(n, u, v, km, giant):
    """Weakly connected pieces of the non-giant nodes, with the edges touching them."""
    columns = ["fragment", "nodes", "edges", "km", "oneway_share", "entries", "exits",
               "oneway_dead", "island"]
    outside = np.flatnonzero(~giant)
    if outside.size == 0:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    inner = ~giant[u] & ~giant[v]
    _, labels = connected_components(_adjacency(n, u[inner], v[inner]), directed=False)
    # renumber fragments 0..f-1 over the non-giant nodes only
    frag_of = np.full(n, -1, np.int64)
    frag_of[outside] = np.unique(labels[outside], return_inverse=True)[1]
    f = int(frag_of.max()) + 1
    touching = ~(giant[u] & giant[v])
    eu, ev = u[touching], v[touching]
    frag_e = np.where(giant[eu], frag_of[ev], frag_of[eu])
    oneway = _no_reverse(u, v, n)[touching]
    entries = np.bincount(frag_e[giant[eu]], minlength=f)
    exits = np.bincount(frag_e[giant[ev]], minlength=f)
    n_edges = np.bincount(frag_e, minlength=f)
    n_oneway = np.bincount(frag_e[oneway], minlength=f)
    table = pd.DataFrame({
        "fragment": np.arange(f),
        "nodes": np.bincount(frag_of[outside], minlength=f),
        "edges": n_edges,
        "km": np.bincount(frag_e, weights=km[touching], minlength=f),
        "oneway_share": np.divide(n_oneway, n_edges, out=np.ones(f), where=n_edges > 0),
        "entries": entries,
        "exits": exits,
    })
    all_oneway = (n_oneway == n_edges) & (n_edges > 0)
    table["oneway_dead"] = all_oneway & ((entries == 0) | (exits == 0))
    table["island"] = (entries == 0) & (exits == 0)
    table = table.sort_values(["nodes", "km"], ascending=False, kind="stable")
    return table.reset_index(drop=True)


def _nearest_new(tree, giant_nodes, xy, nodes_from, tolerance_m, k, existing, n, outgoing):
    """Nearest giant-SCC node of each node within tolerance, skipping itself and old edges.

    Returns the chosen partner positions (-1 where none) and distances.
    """
    if nodes_from.size == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    kk = int(min(max(k, 1), giant_nodes.size))
    dist, idx = tree.query(xy[nodes_from], k=kk, distance_upper_bound=tolerance_m)
    dist, idx = dist.reshape(len(nodes_from), kk), idx.reshape(len(nodes_from), kk)
    found = idx < giant_nodes.size
    partner = np.where(found, giant_nodes[np.minimum(idx, giant_nodes.size - 1)], -1)
    me = nodes_from[:, None]
    a, b = (me, partner) if outgoing else (partner, me)
    duplicate = np.isin(a * np.int64(n) + b, existing)
    valid = found & (partner != me) & ~duplicate
    first = np.argmax(valid, axis=1)
    rows = np.arange(len(nodes_from))
    has = valid[rows, first]
    return np.where(has, partner[rows, first], -1), np.where(has, dist[rows, first], np.nan)


def _append_connectors(nodes, edges, xy, cu, cv, cd):
    """Input edges followed by connector rows, with the columns described in repair_dangling."""
    base = edges.reset_index(drop=True).copy()
    m, c = len(base), cu.size
    n = len(nodes)
    if "repaired" in base:
        base["repaired"] = base["repaired"].astype("boolean").fillna(False).astype(bool)
    else:
        base["repaired"] = False
    if "road_class" not in base:
        base["road_class"] = pd.Series(None, index=base.index, dtype=object)

    new = pd.DataFrame({
        "u": cu,
        "v": cv,
        "length_m": cd.astype(float),
        "road_class": pd.Series([CONNECTOR_CLASS] * c, dtype=object),
        "repaired": np.ones(c, bool),
    })
    ids = _node_ids(nodes)
    for col, pos in (("from_node", cu), ("to_node", cv)):
        if col in base:
            new[col] = ids[pos]
    geom_col = getattr(base, "_geometry_column_name", None)
    if geom_col is None and "geometry" in base:
        geom_col = "geometry"
    if geom_col is not None:
        crs = getattr(base, "crs", None)
        if (crs is None or crs.is_geographic) and {"lon", "lat"} <= set(nodes.columns):
            coords = nodes[["lon", "lat"]].to_numpy(float)
        else:
            coords = xy
        new[geom_col] = shapely.linestrings(np.stack([coords[cu], coords[cv]], axis=1)) if c \
            else np.array([], dtype=object)

    # columns the connectors leave empty must be able to hold a missing value
    for col in base.columns:
        if col in new or col in _CONNECTOR_FILLED or c == 0:
            continue
        kind = base[col].dtype.kind
        if kind in "iu":
            base[col] = base[col].astype("Int64")
        elif kind == "b":
            base[col] = base[col].astype("boolean")

    out = pd.concat([base, new], ignore_index=True) if c else base
    for col in base.columns:  # keep pandas string columns as such (concat gives object)
        if isinstance(base[col].dtype, pd.StringDtype) and out[col].dtype != base[col].dtype:
            out[col] = out[col].astype(base[col].dtype)
    if geom_col is not None and hasattr(edges, "crs"):
        out = out.set_geometry(geom_col, crs=edges.crs) if hasattr(out, "set_geometry") else out
    for col in ("u", "v"):
        out[col] = out[col].to_numpy(np.int64)
    for col in ("from_node", "to_node"):
        if col in base and np.issubdtype(np.asarray(ids).dtype, np.integer):
            out[col] = out[col].to_numpy(np.int64)
    out["repaired"] = out["repaired"].to_numpy(bool)
    ou, ov = out["u"].to_numpy(np.int64), out["v"].to_numpy(np.int64)
    no_rev = _no_reverse(ou, ov, n)
    if "oneway" in base:
        old = base["oneway"].astype("boolean").fillna(True).to_numpy(bool)
        out["oneway"] = np.concatenate([old & no_rev[:m], no_rev[m:]])
    else:
        out["oneway"] = no_rev
    return out


def _giant_stats(n, u, v, length, giant):
    in_giant = giant[u] & giant[v] if u.size else np.zeros(0, bool)
    km = float(length[in_giant].sum() / 1000.0)
    return {
        "nodes": int(giant.sum()),
        "edges": int(in_giant.sum()),
        "km": km,
        "share_edges": _share(in_giant.sum(), u.size),
        "share_km": _share(km, float(length.sum() / 1000.0)),
    }
