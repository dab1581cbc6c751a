"""Maps and report files of a scenario run (the last step of the one-way flow).

Draws result tables with :mod:`planner.maps`; never recomputes numbers.
"""
from __future__ import annotations

from pathlib import Path

from planner.maps import label


def road_lines(net, max_edges: int | None = None):
    """The network's edges as a light GeoDataFrame for drawing (one direction per road)."""
    e = net.edges
    u, v = e.u.to_numpy(), e.v.to_numpy()
    keep = (u < v) | e.oneway.to_numpy(bool)  # a two-way road drawn once
    roads = e.loc[keep, ["road_class", "name", "geometry"]]
    if max_edges is not None and len(roads) > max_edges:
        roads = roads.iloc[:max_edges]
    return roads


def write_scenario_maps(sc, net, plants, suppliers, results, folder: Path) -> list[Path]:
    """Write every map the scenario's results call for; returns the paths written.

    One coverage map holds a layer per profile (suppliers for every coverage profile, bands for
    the isochrone profiles; the first isochrone profile shows when it opens). Both maps draw the
    scenario's time-windowed restriction areas.
    """
    import datetime

    from planner import maps
    from planner.network import profiles_for_scenario

    folder = Path(folder)
    lang = sc.scenario.language
    cfg = sc.maps
    roads = road_lines(net) if cfg.roads_base or cfg.basemap == "none" else None
    used = [r for p in profiles_for_scenario(sc).values() for r in p.restrictions]
    restrictions = maps.restriction_frame(used, {r.name: r.note or "" for r in sc.restrictions}) if used else None
    stamp = f"{sc.scenario.name} · {datetime.date.today().isoformat()}"
    fake = [label(k, lang) for k in ("plants", "suppliers") if getattr(sc.sites, k) is not None
            and getattr(sc.sites, k).illustrative]
    note = label("illustrative_note", lang).format(what=(" / " if lang == "zh" else " and ").join(fake)) if fake \
        else None
    written = []
    cov = results.get("coverage")
    if cov is not None:
        shown = (list(sc.coverage.isochrone_profiles) or list(sc.coverage.profiles))[0]
        m = maps.coverage_map(plants, suppliers, cov.supplier_times, cov.isochrones, profile=shown,
                              threshold_min=cov.threshold_min, language=lang, basemap=cfg.basemap, roads=roads,
                              title=f"{label('coverage_title', lang)} — {stamp}",
                              profile_labels={k: v.label for k, v in sc.profiles.items() if v.label},
                              restrictions=restrictions, note=note)
        written.append(maps.save_map(m, folder / "coverage" / "coverage_map.html", offline=cfg.offline))
    sit = results.get("siting")
    if sit is not None:
        m = maps.siting_map(sit.selected_sites(), sit.demand_served(), None, language=lang, basemap=cfg.basemap,
                            roads=roads, title=f"{label('siting_title', lang)} — {stamp}", restrictions=restrictions,
                            note=note)
        written.append(maps.save_map(m, folder / "siting" / "siting_map.html", offline=cfg.offline))
    if cfg.png:
        for html in list(written):
            written.append(maps.export_png(html, html.with_suffix(".png")))
    return written
