"""The scenario's road network: profiles from ``[profiles]``, restriction polygons read here (the
edge), the network built by :mod:`planner.network` and cached under the scenario's ``cache_dir``."""
from __future__ import annotations

import logging

import numpy as np
import pyogrio

from planner._io import sha256_file
from planner.errors import InputError
from planner.network import graph, layer, osm
from planner.network.speeds import (
    AUTONOMOUS_CLASSES,
    AUTONOMOUS_MAX_KMH,
    CAR_SPEEDS_KMH,
    TRUCK_SPEEDS_KMH,
    URBAN_MAXSPEED_CAP_KMH,
    Profile,
    Restriction,
    default_profiles,
)
from planner.study_area import read_polygon

log = logging.getLogger(__name__)


def profiles_for_scenario(sc) -> dict:
    """:class:`~planner.network.speeds.Profile` objects from a scenario's ``[profiles]``."""
    restrictions = {}
    for r in sc.restrictions:
        poly = read_polygon(sc.resolve(r.path))
        restrictions[r.name] = Restriction(r.name, poly, tuple(r.hours), r.action, r.factor)
    if not sc.profiles:
        return default_profiles()
    out = {}
    for name, p in sc.profiles.items():
        auto = p.vehicle == "autonomous"
        allowed = p.allowed_classes if p.allowed_classes is not None else (sorted(AUTONOMOUS_CLASSES) if auto else None)
        base = dict(TRUCK_SPEEDS_KMH if p.vehicle == "truck" else CAR_SPEEDS_KMH)
        base.update(p.speeds_kmh)
        out[name] = Profile(
            name,
            speeds_kmh=base,
            fallback_kmh=p.fallback_kmh,
            factors=dict(p.factors),
            maxspeed_factor=p.maxspeed_factor,
            maxspeed_cap_kmh={**URBAN_MAXSPEED_CAP_KMH, **p.maxspeed_cap_kmh},
            use_maxspeed=p.use_maxspeed,
            vehicle=p.vehicle,
            departure_hour=p.departure_hour,
            restrictions=[restrictions[r] for r in p.restrictions],
            max_kmh=p.max_kmh if p.max_kmh is not None else (AUTONOMOUS_MAX_KMH if auto else None),
            allowed_classes=frozenset(allowed) if allowed is not None else None,
            unknown_class_allowed=p.unknown_class_allowed,
            zone=read_polygon(sc.resolve(p.zone)) if p.zone else None,
        )
    return out


def network_for_scenario(sc, refresh: bool = False):
    """The scenario's :class:`~planner.network.graph.RoadNetwork`, from cache when valid.

    The cache key hashes the road file's content (or the OSM query), the network and profile
    sections of the scenario and the restriction polygons, so any change rebuilds it.
    """

    profiles = profiles_for_scenario(sc)
    net_cfg = sc.network
    parts = [net_cfg.model_dump(exclude={"cache_dir"}), {k: v.model_dump() for k, v in sc.profiles.items()}]
    parts += [sha256_file(sc.resolve(r.path)) for r in sc.restrictions]
    parts += [sha256_file(sc.resolve(p.zone)) for p in sc.profiles.values() if p.zone]
    if net_cfg.source == "layer" or net_cfg.path:
        path = sc.resolve(net_cfg.path)
        if not path.exists():
            hint = " (set PLANNER_DATA_DIR to the shared data folder)" if "PLANNER_DATA_DIR" in net_cfg.path else ""
            raise InputError(f"road file not found{hint}", path=path)
        parts.append(sha256_file(path))
    key = graph.cache_key(*parts)
    cache = sc.cache_dir / f"network-{key}.npz"
    if not refresh:
        net = graph.load_network(cache)
        if net is not None:
            net.report["cache"] = {"path": str(cache), "hit": True}
            return net

    candidates = None
    if net_cfg.source == "layer":
        cols = layer.ColumnMap(**net_cfg.columns.model_dump())
        nodes, edges = layer.read_road_layer(path, cols, layer=net_cfg.layer)
        rep = net_cfg.repair
        if rep.enabled and rep.candidates_layer and rep.candidates_column:
            j = pyogrio.read_dataframe(path, layer=rep.candidates_layer, read_geometry=False)
            id_col = "node_id" if "node_id" in j.columns else j.columns[0]
            candidates = j.loc[j[rep.candidates_column].fillna(False).astype(bool), id_col].to_numpy(np.int64)
    else:
        nodes, edges = osm.load_osm(
            place=net_cfg.place,
            polygon=str(sc.resolve(net_cfg.polygon)) if net_cfg.polygon else None,
            bbox=net_cfg.bbox,
            path=sc.resolve(net_cfg.path) if net_cfg.path else None,
            cache_dir=sc.resolve(net_cfg.raw_dir),
            timeout=net_cfg.download_timeout_s,
            overpass_url=net_cfg.overpass_url,
            nominatim_url=net_cfg.nominatim_url,
            retries=net_cfg.download_retries,
        )
    net = graph.build_network(
        nodes,
        edges,
        profiles,
        metric_crs=net_cfg.metric_crs,
        repair_tolerance_m=net_cfg.repair.tolerance_m if net_cfg.repair.enabled else None,
        repair_candidates=candidates,
        keep_largest=net_cfg.keep_largest,
    )
    try:
        graph.save_network(net, cache)
        net.report["cache"] = {"path": str(cache), "hit": False}
    except OSError as exc:  # a read-only cache folder must not stop the run
        log.warning("could not write network cache %s: %s", cache, exc)
    return net
