"""The ``planner compare`` command: reads the scenario, its network and sites, and writes the comparison."""
from __future__ import annotations

from pathlib import Path

from planner import outputs, site_checks
from planner.compare.lists import read_site_list
from planner.compare.runs import compare_runs
from planner.compare.site_lists import compare_site_lists
from planner.errors import InputError, PlannerError
from planner.pipeline import load_network, load_sites, write
from planner.pipeline.stations import problem_demand
from planner.stations.candidates import snap_candidates
from planner.vocab import STATION_TECHNOLOGIES


def _scenario_demand(sc, net, plants=None, suppliers=None):
    """The scenario's siting demand (:func:`planner.pipeline.stations.problem_demand`)."""
    if sc.siting is None:
        raise PlannerError(
            "comparing station lists needs the scenario's [siting] section (technologies and their demand); "
            "compare two run output folders instead, or lists of plants only")
    return problem_demand(sc, net, plants=plants, suppliers=suppliers)


def check_on_network(sites_df, net, max_snap_m: float, path) -> None:
    """The rule ``planner run`` applies to candidate sites (:func:`planner.stations.candidates.snap_candidates`):
    a site is usable when it lies within ``max_snap_m`` of the road network.

    Raises
    ------
    InputError
        Naming the sites farther than that (with the swap / coordinate-system advice of
        :func:`planner.site_checks.check_in_area` when they also lie outside the network's box).
    """
    snapped = snap_candidates(net, sites_df.assign(lon=sites_df.lon.to_numpy(float), lat=sites_df.lat.to_numpy(float)),
                              max_snap_m)
    far = ~snapped.on_network.to_numpy(bool)
    if not far.any():
        return
    site_checks.check_in_area(sites_df[far], net.bounds(), path)
    ids = sites_df.site_id.astype(str).to_numpy()[far]
    dist = snapped.snap_m.to_numpy()[far]
    shown = ", ".join(f"{i} ({d:.0f} m)" for i, d in list(zip(ids, dist))[:5])
    raise InputError(f"{int(far.sum())} site(s) lie farther than {max_snap_m:g} m from the road network: {shown}",
                     path=path)


def _guard_out(out: Path, inputs) -> None:
    out = out.resolve()
    for p in inputs:
        p = Path(p).resolve()
        if out == p or out in p.parents:
            raise PlannerError(f"output folder {out} would replace the compared input {p}; choose another --out")


def compare_cli(sc, a, b, out=None, within_m: float = 50.0) -> Path:
    """The ``planner compare`` command: two run folders, or two site lists, into ``out``.

    Parameters
    ----------
    sc : Scenario
    a, b : str or Path
        Two run output folders (:func:`compare_runs`) or two site list files
        (:func:`read_site_list`, WGS-84) evaluated on the scenario's network and siting demand
        (:func:`compare_site_lists`).
    out : str or Path, optional
        Output folder, default ``<scenario output>-compare`` (beside the run folder, so a new run
        never removes it); written through
        :func:`planner.outputs.staged_output` (the previous comparison is kept beside it).
    within_m : float

    Returns
    -------
    Path
        The output folder.

    Raises
    ------
    InputError
        One folder and one file, missing files, bad lists, non-run folders.
    PlannerError
        Station lists while the scenario has no ``[siting]`` section.
    """
    a, b = Path(a), Path(b)
    out = Path(out) if out is not None else sc.output_dir.with_name(sc.output_dir.name + "-compare")
    _guard_out(out, (a, b))
    for p in (a, b):
        if not p.exists():
            raise InputError("not found (give two site lists or two run output folders)", path=p)
    if a.is_dir() != b.is_dir():
        folder, other = (a, b) if a.is_dir() else (b, a)
        raise InputError(f"is a folder but {other} is a file: compare two run output folders or two site lists",
                         path=folder)
    lang, cfg = sc.scenario.language, sc.maps
    net = None
    if a.is_dir():
        result = compare_runs(a, b, within_m=within_m)
        if cfg.basemap == "none" and result.sites_a is not None and result.sites_b is not None:
            net = load_network(sc)
    else:
        result, net = _compare_lists_for_scenario(sc, a, b, within_m)
    roads = None
    if net is not None and (cfg.roads_base or cfg.basemap == "none"):
        roads = write.road_lines(net)
    for w in result.warnings:
        print(f"warning: {w}", flush=True)
    with outputs.staged_output(out) as stage:
        write.write_comparison(result, stage, language=lang, basemap=cfg.basemap, roads=roads, offline=cfg.offline)
    return out.resolve()


def _compare_lists_for_scenario(sc, a: Path, b: Path, within_m: float):
    list_a, list_b = read_site_list(a), read_site_list(b)
    has_stations = bool(list_a.technology.isin(STATION_TECHNOLOGIES).any() or
                        list_b.technology.isin(STATION_TECHNOLOGIES).any())
    if has_stations and sc.siting is None:
        _scenario_demand(sc, None)  # raises the "needs [siting]" error before the network is built
    net = load_network(sc)
    for lst, path in ((list_a, a), (list_b, b)):
        check_on_network(lst.assign(source_row=lst.attrs["source_rows"]), net, sc.network.max_snap_m, path)
    has_plants = bool((list_a.technology == "plant").any() or (list_b.technology == "plant").any())
    plants = suppliers = None
    if (has_stations or has_plants) and (sc.sites.plants is not None or sc.sites.suppliers is not None):
        # the scenario's plants and suppliers: freight (H2) demand, and the suppliers of the circle
        plants, suppliers = load_sites(sc, net)
    demand = _scenario_demand(sc, net, plants, suppliers) if has_stations else {}
    technologies = sc.siting.technologies if sc.siting is not None else {}
    prof = sc.coverage.profiles[0] if sc.coverage.profiles else None
    result = compare_site_lists(net, list_a, list_b, demand, technologies, within_m=within_m, suppliers=suppliers,
                                threshold_min=sc.coverage.threshold_min,
                                circle_profile=prof if prof in net.profiles else None,
                                max_snap_m=sc.network.max_snap_m, label_a=a.stem, label_b=b.stem)
    return result, net
