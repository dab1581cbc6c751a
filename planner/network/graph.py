"""The routable road network: node/edge tables plus compressed sparse arrays per profile.

:func:`build_network` turns raw road tables (see ``docs/DESIGN.md``) into a :class:`RoadNetwork`:
ids → positions, metric coordinates, optional repair of dangling ends, restriction to the largest
strongly connected component, and one travel time per edge per profile. :func:`save_network` /
:func:`load_network` keep it under ``data/processed/`` in a compressed ``.npz`` keyed by a hash of
its inputs, with a checksum so a stale or corrupt cache is rebuilt, never trusted.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS, Transformer

import planner.network.repair as _repair
from planner._io import atomic_path, atomic_write_text, json_default, sha256_file
from planner.errors import NetworkError, ScenarioError
from planner.network.speeds import Profile, edge_travel_times, restriction_masks, speed_source_shares

log = logging.getLogger(__name__)

#: Bump when the cached layout or the meaning of a cached column changes.
CACHE_FORMAT = 1


@dataclass
class RoadNetwork:
    """A directed drive network with one travel time per edge per profile.

    Attributes
    ----------
    nodes : DataFrame
        Indexed 0..n-1: ``node_id`` (source id), ``lon``, ``lat``, ``x``, ``y`` (metric CRS).
    edges : GeoDataFrame
        ``u``, ``v`` (node positions), ``length_m``, ``road_class``, ``name``, ``oneway``,
        ``repaired``, ``travel_time_s_<profile>`` (``inf`` = closed), geometry (EPSG:4326).
    metric_crs : str
    profiles : list of str
    report : dict
        Network QA, repair, what the restriction to the largest strongly connected part dropped,
        and ``speeds``: per profile, the share of length driven at a tagged, clamped, class or
        fallback speed (:func:`~planner.network.speeds.speed_source_shares`).
    """

    nodes: pd.DataFrame
    edges: gpd.GeoDataFrame
    metric_crs: str
    profiles: list[str]
    report: dict = field(default_factory=dict)
    _csr: dict = field(default_factory=dict, repr=False)

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    def times(self, profile: str) -> np.ndarray:
        """Per-edge travel times (s) of ``profile``."""
        self._check_profile(profile)
        return self.edges[f"travel_time_s_{profile}"].to_numpy(dtype=float)

    def csr(self, profile: str, reverse: bool = False) -> sp.csr_matrix:
        """CSR matrix of edge travel times; parallel edges keep the fastest; closed edges dropped.

        ``reverse=True`` gives the transposed graph (for times *to* a node).
        """
        key = (profile, reverse)
        if key not in self._csr:
            u = self.edges["u"].to_numpy(np.int64)
            v = self.edges["v"].to_numpy(np.int64)
            t = self.times(profile)
            if reverse:
                u, v = v, u
            self._csr[key] = _csr_min(u, v, t, self.n_nodes)
        return self._csr[key]

    def metric_geometry(self) -> np.ndarray:
        """Edge geometries in :attr:`metric_crs` as a shapely array (cached)."""
        if "_metric_geom" not in self._csr:
            self._csr["_metric_geom"] = np.asarray(self.edges.geometry.to_crs(self.metric_crs).values)
        return self._csr["_metric_geom"]

    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the nodes, degrees."""
        return (
            float(self.nodes.lon.min()),
            float(self.nodes.lat.min()),
            float(self.nodes.lon.max()),
            float(self.nodes.lat.max()),
        )

    def with_profile(self, profile: Profile, speed_scale: float = 1.0, name: str | None = None) -> "RoadNetwork":
        """A copy with one more (or a replaced) profile column, e.g. for a speed sensitivity sweep."""
        name = name or profile.name
        edges = self.edges.copy()
        edges[f"travel_time_s_{name}"] = edge_travel_times(edges, profile, speed_scale)
        profiles = self.profiles + ([name] if name not in self.profiles else [])
        report = dict(self.report)
        report["speeds"] = {**report.get("speeds", {}), **speed_source_shares(edges, {name: profile})}
        return RoadNetwork(self.nodes, edges, self.metric_crs, profiles, report)

    def _check_profile(self, profile: str):
        if profile not in self.profiles:
            raise ScenarioError(f"unknown profile '{profile}'; this network has: {', '.join(self.profiles)}")


def metric_crs_for(lon: float, lat: float) -> str:
    """UTM zone (WGS-84) containing a point, as ``EPSG:326xx`` / ``EPSG:327xx``."""
    zone = int((lon + 180) // 6) + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def build_network(
    nodes: pd.DataFrame,
    edges: gpd.GeoDataFrame,
    profiles: dict[str, Profile],
    metric_crs: str | None = None,
    repair_tolerance_m: float | None = None,
    repair_candidates: np.ndarray | None = None,
    keep_largest: bool = True,
) -> RoadNetwork:
    """Build a :class:`RoadNetwork` from raw road tables.

    Parameters
    ----------
    nodes, edges : raw tables (``docs/DESIGN.md``).
    profiles : dict of name → Profile
    metric_crs : str, optional
        Defaults to the UTM zone of the network's centre.
    repair_tolerance_m : float, optional
        When given, dangling ends (and ``repair_candidates`` nodes) are joined to the nearest
        junction of the largest strongly connected part within this distance, direction respected.
        Added edges are flagged ``repaired=True``.
    repair_candidates : array of node ids, optional
        Extra nodes to give an entry and an exit (e.g. the SE-Beijing layer's
        ``ramp_attach_inferred`` junctions where expressway ramps were cut away).
    keep_largest : bool
        Keep only the largest strongly connected component (reported in ``report``).
    """
    if len(edges) == 0:
        raise NetworkError("the road network has no edges")
    report: dict = {}
    nodes = nodes.drop_duplicates("node_id").reset_index(drop=True)
    index = pd.Index(nodes["node_id"].to_numpy())
    u = index.get_indexer(edges["from_node"].to_numpy())
    v = index.get_indexer(edges["to_node"].to_numpy())
    dangling = (u < 0) | (v < 0)
    if dangling.any():
        report["edges_with_missing_nodes_dropped"] = int(dangling.sum())
    keep = ~dangling & (u != v)
    report["self_loops_dropped"] = int(((u == v) & ~dangling).sum())
    edges = edges.loc[keep].reset_index(drop=True)
    u, v = u[keep], v[keep]

    if metric_crs is None:
        metric_crs = metric_crs_for(float(nodes.lon.median()), float(nodes.lat.median()))
    tr = Transformer.from_crs(CRS.from_epsg(4326), CRS.from_user_input(metric_crs), always_xy=True)
    x, y = tr.transform(nodes.lon.to_numpy(float), nodes.lat.to_numpy(float))
    nodes = pd.DataFrame({"node_id": nodes.node_id.to_numpy(np.int64), "lon": nodes.lon.to_numpy(float),
                          "lat": nodes.lat.to_numpy(float), "x": x, "y": y})

    e = gpd.GeoDataFrame(
        {
            "u": u.astype(np.int64),
            "v": v.astype(np.int64),
            "length_m": edges["length_m"].to_numpy(float),
            "road_class": edges["road_class"].astype("object").to_numpy() if "road_class" in edges else None,
            "maxspeed_kmh": edges["maxspeed_kmh"].to_numpy(float) if "maxspeed_kmh" in edges else np.nan,
            "name": edges["name"].astype("object").to_numpy() if "name" in edges else None,
            "oneway": edges["oneway"].to_numpy(bool) if "oneway" in edges else False,
            "hgv": edges["hgv"].astype("object").to_numpy() if "hgv" in edges else None,
            "repaired": False,
        },
        geometry=edges.geometry.values,
        crs=4326,
    )
    report["qa_before"] = _scalars(_repair.qa_report(nodes, e))
    if repair_tolerance_m:
        cand = None
        if repair_candidates is not None and len(repair_candidates):
            pos = index.get_indexer(np.asarray(repair_candidates))
            cand = np.zeros(len(nodes), bool)
            cand[pos[pos >= 0]] = True
        e, summary = _repair.repair_dangling(nodes, e, tolerance_m=repair_tolerance_m, candidates=cand)
        report["repair"] = summary
    if keep_largest:
        nodes, e, dropped = _repair.largest_strong_component(nodes, e)
        report["largest_component"] = dropped
    e = e.reset_index(drop=True)
    nodes = nodes.reset_index(drop=True)
    if len(e) == 0:
        raise NetworkError("no routable edges left after keeping the largest connected part")
    for name, profile in profiles.items():
        masks = restriction_masks(e, profile.restrictions) if profile.restrictions else None
        e[f"travel_time_s_{name}"] = edge_travel_times(e, profile, restricted=masks)
    report["speeds"] = speed_source_shares(e, profiles)
    return RoadNetwork(nodes, e, metric_crs, list(profiles), report)


def _scalars(report: dict) -> dict:
    """The JSON-friendly part of a QA report (drops the per-node tables)."""
    return {k: v for k, v in report.items() if not isinstance(v, pd.DataFrame)}


def _csr_min(u, v, w, n) -> sp.csr_matrix:
    """CSR from edge lists keeping the minimum over parallel edges and dropping ``inf``."""
    ok = np.isfinite(w)
    u, v, w = u[ok], v[ok], w[ok]
    order = np.lexsort((w, v, u))
    u, v, w = u[order], v[order], w[order]
    first = np.ones(len(u), bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    u, v, w = u[first], v[first], w[first]
    indptr = np.zeros(n + 1, np.int64)
    np.add.at(indptr, u + 1, 1)
    np.cumsum(indptr, out=indptr)
    m = sp.csr_matrix((w, v.astype(np.int32), indptr), shape=(n, n))
    m.has_sorted_indices = True
    return m


# ---------------------------------------------------------------------------------------- cache
def cache_key(*parts) -> str:
    """Hash of the inputs that determine a network (file digests, settings, format version)."""
    h = hashlib.sha256()
    h.update(f"format={CACHE_FORMAT}".encode())
    h.update(_code_digest().encode())
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()[:24]


def _code_digest() -> str:
    """Digest of the network-building code, so a code change never reuses an old cache."""
    h = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()


def save_network(net: RoadNetwork, path) -> Path:
    """Write ``net`` to ``path`` (``.npz``) atomically, with a checksum sidecar."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"nodes__{c}": net.nodes[c].to_numpy() for c in net.nodes.columns}
    for c in net.edges.columns:
        if c == "geometry":
            continue
        col = net.edges[c]
        if col.dtype == object or str(col.dtype) in {"str", "string"}:
            arrays[f"edges__{c}"] = np.array(["\x00" if val is None or val is pd.NA or (isinstance(val, float) and np.isnan(val)) else str(val)
                                              for val in col.astype("object")], dtype=str)
        else:
            arrays[f"edges__{c}"] = col.to_numpy()
    wkb = shapely.to_wkb(np.asarray(net.edges.geometry.values))
    lens = np.fromiter((len(b) for b in wkb), np.int64, len(wkb))
    arrays["geom_offsets"] = np.concatenate([[0], np.cumsum(lens)])
    arrays["geom_bytes"] = np.frombuffer(b"".join(wkb), dtype=np.uint8)
    meta = {"metric_crs": net.metric_crs, "profiles": net.profiles, "report": net.report,
            "edge_columns": [c for c in net.edges.columns if c != "geometry"], "format": CACHE_FORMAT}
    arrays["meta"] = np.frombuffer(json.dumps(meta, default=json_default).encode(), dtype=np.uint8)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        digest = sha256_file(tmp)
    atomic_write_text(path.with_suffix(".sha256"), digest)
    return path


def load_network(path) -> RoadNetwork | None:
    """Load a cached network; ``None`` when missing, stale or corrupt (the caller rebuilds)."""
    path = Path(path)
    side = path.with_suffix(".sha256")
    if not path.exists() or not side.exists():
        return None
    try:
        if sha256_file(path) != side.read_text().strip():
            log.warning("network cache %s fails its checksum; rebuilding", path)
            return None
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            if meta.get("format") != CACHE_FORMAT:
                return None
            nodes = pd.DataFrame({k[len("nodes__"):]: z[k] for k in z.files if k.startswith("nodes__")})
            data = {}
            for c in meta["edge_columns"]:
                a = z[f"edges__{c}"]
                if a.dtype.kind == "U":
                    a = np.where(a == "\x00", None, a.astype(object))
                data[c] = a
            off, raw = z["geom_offsets"], z["geom_bytes"].tobytes()
            wkb = np.array([raw[off[i]:off[i + 1]] for i in range(len(off) - 1)], dtype=object)
            geom = shapely.from_wkb(wkb)
    except Exception as exc:  # any damage means: rebuild
        log.warning("network cache %s unreadable (%s); rebuilding", path, exc)
        return None
    edges = gpd.GeoDataFrame(data, geometry=geom, crs=4326)
    return RoadNetwork(nodes, edges, meta["metric_crs"], meta["profiles"], meta["report"])


def export_network(net: RoadNetwork, path) -> Path:
    """Write the routable network to a GeoPackage (layers ``edges`` and ``nodes``) atomically.

    ``edges``: u, v, length_m, road_class, repaired, travel_time_s_<profile>…, LineString;
    ``nodes``: node_id (position used by ``u``/``v``), source_id, Point — enough for anyone to
    re-check a travel time with another engine.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = ["u", "v", "length_m", "road_class", "name", "oneway", "repaired"] + [
        f"travel_time_s_{p}" for p in net.profiles
    ]
    edges = net.edges[cols + ["geometry"]].copy()
    for c in ("road_class", "name"):
        edges[c] = edges[c].astype("object")
    nodes = gpd.GeoDataFrame(
        {"node_id": np.arange(net.n_nodes), "source_id": net.nodes.node_id.to_numpy()},
        geometry=gpd.points_from_xy(net.nodes.lon, net.nodes.lat),
        crs=4326,
    )
    with atomic_path(path) as tmp:
        edges.to_file(tmp, layer="edges", driver="GPKG")
        nodes.to_file(tmp, layer="nodes", driver="GPKG")
    return path
