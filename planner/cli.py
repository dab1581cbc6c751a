"""``planner`` command line: the same public functions the notebooks call.

Errors print one line (``error: …``) and exit non-zero; ``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from planner import outputs, pipeline, sites
from planner.errors import PlannerError
from planner.network import download
from planner.network.graph import export_network
from planner.pipeline.compare import compare_cli
from planner.programme import commands
from planner.reporting import write_report
from planner.routing import point_travel_times, snap_to_roads
from planner.scenario import load_scenario


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="planner", description="Yizhuang supply-circle and station-siting planner")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run everything a scenario asks for")
    r.add_argument("scenario")
    r.add_argument("--quiet", action="store_true", help="no progress output (for scripts)")
    r.add_argument("--refresh-network", action="store_true", help="rebuild the cached network")
    r.add_argument("--only", choices=["coverage", "siting"],
                   help="run one part only (the other part's results in the output folder are kept)")
    r.add_argument("--out", default=None, help="output folder (default: the scenario's [scenario] output)")
    r.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)

    m = sub.add_parser("matrix", help="travel-time matrix between two point lists")
    m.add_argument("scenario")
    m.add_argument("--origins", required=True, help="CSV/XLSX/GPKG of points (id, lon, lat)")
    m.add_argument("--destinations", required=True)
    m.add_argument("--profile", default="offpeak")
    m.add_argument("--direction", choices=["from", "to"], default="from",
                   help="'from': origin → destination; 'to': destination → origin")
    m.add_argument("--cutoff-min", type=float, default=None)
    m.add_argument("--coord-system", default="wgs84", choices=["wgs84", "gcj02", "bd09"])
    m.add_argument("--out", required=True, help="long-format CSV: origin_id, destination_id, minutes")
    m.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)

    n = sub.add_parser("network", help="export the routable network (GeoPackage) and its QA report")
    n.add_argument("scenario")
    n.add_argument("--out", required=True)
    n.add_argument("--refresh-network", action="store_true")
    n.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)

    f = sub.add_parser("fetch", help="download and cache the scenario's OSM data (needs internet)")
    f.add_argument("scenario")
    f.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)

    rep = sub.add_parser("report", help="write report.html and report.pdf of a finished run folder")
    rep.add_argument("run_dir", help="a folder written by `planner run` (holds run.json); its programme/ results "
                                     "(`planner frontier`, `planner phase`) get their own sections")
    rep.add_argument("--out", default=None, help="output folder (default: RUN_DIR/report)")
    rep.add_argument("--no-pdf", action="store_true", help="HTML only (no headless Chromium)")
    rep.add_argument("--no-map-snapshots", action="store_true", help="leave out PNG snapshots of the maps")
    rep.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)

    c = sub.add_parser("compare", help="compare two candidate site lists, or two run output folders")
    c.add_argument("scenario")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--out", default=None, help="output folder (default: <scenario output>-compare)")
    c.add_argument("--within-m", type=float, default=50.0, help="sites this close count as the same site")
    c.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    for name, what in (("sweep", "run every combination of a grid of scenario settings on Dask"),
                       ("frontier", "station coverage against budget (parametric solves on Dask)"),
                       ("phase", "stations year by year to 2028, against the myopic plan")):
        g = sub.add_parser(name, help=what)
        g.add_argument("scenario")
        if name == "sweep":
            g.add_argument("--grid", action="append", default=[], metavar="KEY=VALUES",
                           help="e.g. siting.budget_wan=5000:30000:2500 or profiles.peak.factors.default=0.5,0.65")
            g.add_argument("--no-resume", action="store_true", help="run finished scenarios again")
        if name == "frontier":
            g.add_argument("--budgets", default=None, help="START:STOP:STEP or a comma list (万元)")
        g.add_argument("--scheduler", default=None, help="an existing Dask scheduler, e.g. tcp://HOST:8786")
        g.add_argument("--workers", type=int, default=None, help="local workers (default: one per core)")
        where = {"sweep": "<scenario output>-sweep",
                 "frontier": "<scenario output>/programme/frontier, shown by `planner report <scenario output>`",
                 "phase": "<scenario output>/programme/phasing, shown by `planner report <scenario output>`"}[name]
        g.add_argument("--out", default=None, help=f"output folder (default: {where})")
        g.add_argument("--quiet", action="store_true")
        g.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except PlannerError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: previous outputs are unchanged", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected failure: still one line unless --debug
        if args.debug:
            raise
        print(f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]} "
              "(run again with --debug for the traceback)", file=sys.stderr)
        return 1


def _dispatch(args) -> int:
    if args.command == "report":
        paths = write_report(args.run_dir, args.out, pdf=not args.no_pdf, snapshots=not args.no_map_snapshots)
        print("report: " + ", ".join(str(p) for p in paths.values()))
        return 0
    sc = load_scenario(args.scenario)
    if args.command == "run":
        pipeline.run(sc, quiet=args.quiet, refresh_network=args.refresh_network, only=args.only, out=args.out)
        return 0
    if args.command == "matrix":
        return _matrix(sc, args)
    if args.command == "network":
        net = pipeline.load_network(sc, refresh=args.refresh_network)
        out = Path(args.out)
        export_network(net, out)
        outputs.write_json(outputs.clean_for_json(net.report), out.with_suffix(".qa.json"))
        print(f"{out}: {net.n_nodes} nodes, {len(net.edges)} edges; QA report {out.with_suffix('.qa.json')}")
        return 0
    if args.command == "fetch":
        if sc.network.source != "osm":
            raise PlannerError("this scenario reads a local road layer (network.source = 'layer'); nothing to fetch")
        path = download.fetch(place=sc.network.place, bbox=sc.network.bbox,
                         polygon=str(sc.resolve(sc.network.polygon)) if sc.network.polygon else None,
                         cache_dir=sc.resolve(sc.network.raw_dir), timeout=sc.network.download_timeout_s,
                         overpass_url=sc.network.overpass_url, nominatim_url=sc.network.nominatim_url,
                         retries=sc.network.download_retries)
        print(f"cached: {path}")
        return 0
    if args.command == "compare":
        out = compare_cli(sc, args.a, args.b, out=args.out, within_m=args.within_m)
        print(f"comparison: {out}")
        return 0
    if args.command in ("sweep", "frontier", "phase"):
        kw = dict(out=args.out, scheduler=args.scheduler, workers=args.workers, quiet=args.quiet)
        if args.command == "sweep":
            commands.sweep_command(sc, args.grid, resume=not args.no_resume, **kw)
        elif args.command == "frontier":
            commands.frontier_command(sc, budgets=args.budgets, **kw)
        else:
            commands.phase_command(sc, **kw)
        return 0
    raise PlannerError(f"unknown command {args.command}")


def _matrix(sc, args) -> int:
    net = pipeline.load_network(sc)
    a = sites.read_sites(args.origins, kind="candidate", coord_system=args.coord_system)
    b = sites.read_sites(args.destinations, kind="candidate", coord_system=args.coord_system)
    a_pts = snap_to_roads(net, a.lon, a.lat, sc.network.max_snap_m, ids=a.site_id.to_numpy())
    b_pts = snap_to_roads(net, b.lon, b.lat, sc.network.max_snap_m, ids=b.site_id.to_numpy())
    cutoff = args.cutoff_min * 60 if args.cutoff_min else None
    if args.direction == "from":
        t = point_travel_times(net, a_pts, b_pts, profile=args.profile, cutoff_s=cutoff) / 60.0
    else:  # "to": from each destination to the origin
        t = point_travel_times(net, b_pts, a_pts, profile=args.profile, cutoff_s=cutoff).T / 60.0
    df = pd.DataFrame({
        "origin_id": np.repeat(a.site_id.to_numpy(), len(b)),
        "destination_id": np.tile(b.site_id.to_numpy(), len(a)),
        "minutes": t.ravel(),
    })
    outputs.write_csv(df, Path(args.out))
    print(f"{args.out}: {len(a)} × {len(b)} ({args.profile}, direction {args.direction}); "
          f"{int(np.isinf(t).sum())} unreachable (inf)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
