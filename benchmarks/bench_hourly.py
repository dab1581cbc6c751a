"""Coverage by departure hour on the demo scenario: the hourly engine vs re-timing the whole network.

Hourly engine (:func:`planner.supply_circle.coverage_by_hour`): the scenario's ``[hourly]`` vehicles
× hours, only edge times recomputed per hour, equal hours routed once. Reference: for a few hours
of one vehicle, the network re-timed with the single profile at that hour (``with_profile``) and
the full audit (:func:`~planner.supply_circle.supplier_coverage`); its covered counts must equal
the engine's. Medians of ``--repeat`` runs (default 3).

Usage: ``python benchmarks/run.py hourly [--repeat N]``
"""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECK_VEHICLE, CHECK_HOURS = "truck_nev", (3, 8, 12, 17)


def main(argv) -> dict:
    os.environ.setdefault("PLANNER_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    from planner import pipeline
    from planner.network.speeds import profile_at_hour
    from planner.scenario import load_scenario
    from planner.supply_circle import coverage_by_hour, supplier_coverage

    repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 3
    sc = load_scenario(ROOT / "scenarios" / "yizhuang.toml")
    net = pipeline.load_network(sc)
    plants, suppliers = pipeline.load_sites(sc, net)
    profiles = pipeline.profiles_for_scenario(sc)
    vehicles = {v: profiles[v] for v in sc.hourly.vehicles}
    hours = sc.hourly.hours
    times, res = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = coverage_by_hour(net, plants, suppliers, vehicles, hours=hours, threshold_min=sc.coverage.threshold_min)
        times.append(time.perf_counter() - t0)
    engine_s = statistics.median(times)
    ref_times = []
    for h in CHECK_HOURS:
        t0 = time.perf_counter()
        p = profile_at_hour(vehicles[CHECK_VEHICLE], h, name="ref")
        ref = supplier_coverage(net.with_profile(p), plants, suppliers, profiles=["ref"],
                                threshold_min=sc.coverage.threshold_min, speed_scales=[1.0])
        ref_times.append(time.perf_counter() - t0)
        got = res.by_hour[(res.by_hour.vehicle == CHECK_VEHICLE) & (res.by_hour.hour == h)]
        exp = ref.plant_summary.set_index("plant_id").loc[got.plant_id]
        if got.suppliers_covered.tolist() != exp.suppliers_covered.tolist():
            raise SystemExit(f"hourly engine differs from the single-profile audit at hour {h}")
    n = len(vehicles) * len(hours)
    per_ref = statistics.median(ref_times)
    print(f"{'method':28s} {'profile-hours':>13s} {'seconds':>8s} {'s/profile-hour':>15s}")
    print(f"{'hourly engine':28s} {n:13d} {engine_s:8.1f} {engine_s / n:15.3f}")
    print(f"{'re-time network + audit':28s} {len(CHECK_HOURS):13d} {sum(ref_times):8.1f} {per_ref:15.3f}")
    return {"profile_hours": n, "routed": res.routed, "engine_s": round(engine_s, 2),
            "engine_s_per_profile_hour": round(engine_s / n, 3), "retime_s_per_profile_hour": round(per_ref, 3),
            "checked_hours": len(CHECK_HOURS)}
