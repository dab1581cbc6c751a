"""Load benchmark: the whole pipeline on the SE-Beijing layer with thousands of suppliers and sites.

Issue #6 asked that runs on the full shared layer with thousands of suppliers and siting
candidates stay within 2 GB of memory; issue #17 asks the load run "proven within 0.1 % inside
60 s and under 1.5 GB" (:data:`LIMIT_MB`). The RESULT line reports the whole run's peak, the step
that peaks and the sizes of the big outputs (:func:`output_sizes_mb`).

This benchmark builds, in a temporary folder (never in the repository; the demo's inputs are
only read), a copy of the demo scenario
(``scenarios/yizhuang.toml``) with

* the same plants, network, profiles, restrictions, EV demand and technologies;
* a seeded ILLUSTRATIVE supplier list of ``--suppliers`` suppliers (default 5,000), drawn with
  the demo's own generator (``scripts/make_demo_sites.py``: junctions near the plants preferred);
* the demo's candidate sources (every Geofabrik parking and fuel area, ~1,500) plus
  ``--extra-candidates`` seeded network junctions (default 2,000) as a generated candidate list
  (``siting.candidates.generated``, open to every technology, with drawn lot areas and grid
  headroom), so the problem has more than 3,000 candidates on the network;

then runs ``python -m planner.cli run`` on it in a fresh process, as a planner would, and
measures wall time and the child's peak resident memory (``getrusage(RUSAGE_CHILDREN)``). The
child's RSS is also sampled from ``/proc`` while it runs, so the table shows the peak per
pipeline step. The network cache of the demo (``data/processed``) is used when it is there (the
cache is keyed on the inputs, which are the demo's); from a clean checkout the first run builds
and caches it.

Usage: ``python benchmarks/run.py load [--suppliers N] [--extra-candidates N] [--seed S] [--keep DIR]
[--cache-dir DIR]``
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
from tomli_w import dumps as dumps_toml

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "yizhuang.toml"
#: memory issue #17 asks of the whole load run ("proven within 0.1 % inside 60 s and under 1.5 GB",
#: read strictly as 1,500 MB; issue #6 had asked 2 GB)
LIMIT_MB = 1500
#: memory issue #17 asks of the siting solve (its sampled step peak is printed against it)
SITING_TARGET_MB = 1536
SEED = 20281231
#: name of the generated candidate source in the scenario copy
GENERATED = "generated"


def _demo_sites():
    """``scripts/make_demo_sites.py`` as a module (``scripts/`` is not a package)."""
    spec = importlib.util.spec_from_file_location("make_demo_sites", ROOT / "scripts" / "make_demo_sites.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ------------------------------------------------------------------------- scenario builder
#: Scenario keys whose values are file paths (relative to the scenario file).
_PATH_KEYS = ("path", "zone")


def _absolute_paths(node, base: Path):
    """Scenario-relative file paths (``path``, a profile's ``zone``) made absolute
    (``${PLANNER_DATA_DIR}`` ones kept)."""
    if isinstance(node, dict):
        return {k: (str((base / v).resolve()) if k in _PATH_KEYS and isinstance(v, str) and not v.startswith("${")
                    and not Path(v).is_absolute() else _absolute_paths(v, base)) for k, v in node.items()}
    if isinstance(node, list):
        return [_absolute_paths(x, base) for x in node]
    return node


def build_load_scenario(folder, n_suppliers: int = 5000, n_extra_candidates: int = 2000, seed: int = SEED,
                        cache_dir=None, name: str = "yizhuang_load", time_limit_s: float | None = None) -> Path:
    """Write the load scenario (TOML + supplier and candidate lists) into ``folder``.

    Parameters
    ----------
    folder : str or Path
        Where the scenario, its lists and (under ``output/``) its results go; created if needed.
    n_suppliers : int
        Illustrative suppliers drawn by ``make_demo_sites.demo_suppliers`` (seeded).
    n_extra_candidates : int
        Network junctions (seeded, without replacement) added as the candidate source
        ``generated``, open to every technology; lot area 200–6,000 m² and grid headroom
        630–2,500 kVA drawn per site. 0 = the demo's candidates only.
    seed : int
        Seed of both draws.
    cache_dir : str or Path, optional
        Network cache folder; default the demo's (``data/processed``), so its cached network
        is reused — the cache key hashes the network inputs, which are the demo's.
    name : str
        Scenario name (output folder ``folder/output/<name>``).
    time_limit_s : float, optional
        Override of ``siting.time_limit_s`` (default: the demo's).

    Returns
    -------
    Path
        The scenario file ``folder/<name>.toml``.

    Raises
    ------
    InputError
        The shared road layer is missing (set ``PLANNER_DATA_DIR``).
    """
    from planner.errors import InputError
    from planner.scenario import load_scenario
    from planner.sites import read_sites

    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    demo = load_scenario(DEMO)
    roads = demo.resolve(demo.network.path)
    if not roads.exists():
        raise InputError("road file not found (set PLANNER_DATA_DIR to the shared data folder)", path=roads)
    data = _absolute_paths(tomllib.loads(DEMO.read_text(encoding="utf-8")), DEMO.parent)
    data["scenario"]["name"] = name
    data["scenario"]["output"] = str(folder / "output" / "{name}")
    data["scenario"]["note"] = (f"Load benchmark: {n_suppliers} ILLUSTRATIVE suppliers, demo candidates + "
                                f"{n_extra_candidates} generated junction sites (seed {seed})")
    data["network"]["cache_dir"] = str(Path(cache_dir).resolve() if cache_dir else demo.cache_dir)
    # a city-scale load: candidates and demand over the whole road layer, not the demo's E-Town area
    data.get("siting", {}).pop("study_area", None)
    data.pop("report", None)

    gen = _demo_sites()
    rng = np.random.default_rng(seed)
    j = gen.junctions(roads)
    plants = read_sites(demo.resolve(demo.sites.plants.path), kind="plant")
    plants = pd.DataFrame({"plant_id": plants.site_id.to_numpy(), "lon": plants.lon.to_numpy(), "lat": plants.lat.to_numpy()})
    suppliers = gen.demo_suppliers(j, plants, n_suppliers, rng)
    # the 5–80 m nudge can cross the layer's edge (lat 39.756): keep such suppliers inside it
    suppliers["lon"] = suppliers.lon.clip(j.lon.min(), j.lon.max())
    suppliers["lat"] = suppliers.lat.clip(j.lat.min(), j.lat.max())
    suppliers.to_csv(folder / "suppliers.csv", index=False)
    data["sites"]["suppliers"]["path"] = "suppliers.csv"

    if n_extra_candidates:
        pick = np.sort(rng.choice(len(j), size=n_extra_candidates, replace=False))
        num = [f"{i:05d}" for i in range(1, n_extra_candidates + 1)]
        pd.DataFrame({
            "id": num,
            "name": [f"Generated site {s} 生成候选点{s}" for s in num],
            "lon": np.round(j.lon.to_numpy()[pick], 6),
            "lat": np.round(j.lat.to_numpy()[pick], 6),
            "area_m2": np.round(rng.uniform(200, 6000, n_extra_candidates)),
            "headroom_kva": rng.choice([630, 1250, 2000, 2500], n_extra_candidates),
        }).to_csv(folder / "candidates_generated.csv", index=False)
        siting = data["siting"]
        siting["candidates"][GENERATED] = {"path": "candidates_generated.csv", "kind": GENERATED}
        for tech in siting["technologies"].values():
            if tech.get("candidate_sources"):
                tech["candidate_sources"] = [*tech["candidate_sources"], GENERATED]
    data["siting"]["capex_model"] = "flat"  # the #6 / #17 figures were measured on flat capex (the demo is "sized")
    if time_limit_s is not None:
        data["siting"]["time_limit_s"] = float(time_limit_s)

    text = dumps_toml(data)
    if tomllib.loads(text) != data:  # the writer covers what the demo scenario uses; stop if not
        raise RuntimeError("scenario copy does not read back to the same settings")
    path = folder / f"{name}.toml"
    path.write_text("# Load benchmark scenario generated by benchmarks/bench_load.py from scenarios/yizhuang.toml\n"
                    + text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ measuring
def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def run_scenario(path: Path, env=None) -> dict:
    """Run ``planner run`` on ``path`` in a child process; wall time, peak RSS, RSS per step.

    Returns
    -------
    dict
        ``seconds``, ``peak_mb`` (child's max RSS from ``getrusage(RUSAGE_CHILDREN)``; exact),
        ``step_peak_mb`` (step name → highest RSS sampled every 0.1 s from ``/proc`` between
        the step's start and the next step's start; can miss short spikes; ``maps`` and
        ``exports`` run inside ``write outputs``, whose own figure covers the tables written
        before the maps).
    """
    env = dict(os.environ if env is None else env)
    env.setdefault("PLANNER_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    env["PYTHONUNBUFFERED"] = "1"
    cmd = [sys.executable, "-m", "planner.cli", "run", str(path)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples, marks = [], []

    def sample():
        while proc.poll() is None:
            samples.append((time.perf_counter(), _rss_mb(proc.pid)))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for line in proc.stdout:  # "… step" / "✓ step (n s)" lines from pipeline.Run
        if line.startswith("… "):
            marks.append((time.perf_counter(), line[2:].strip()))
    err = proc.stderr.read()
    proc.wait()
    seconds = time.perf_counter() - t0
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"load run failed: {err.strip()}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if peak <= before:  # an earlier, larger child (only when called more than once)
        peak = max(rss for _, rss in samples) if samples else float("nan")
    t = np.array([s[0] for s in samples])
    rss = np.array([s[1] for s in samples])
    starts = [m[0] for m in marks] + [np.inf]
    steps = {"start-up": float(np.nanmax(rss[t < starts[0]], initial=0.0))}
    for (t_start, step), t_end in zip(marks, starts[1:]):
        steps[step] = float(np.nanmax(rss[(t >= t_start) & (t < t_end)], initial=0.0))
    return {"seconds": seconds, "peak_mb": peak, "step_peak_mb": steps}


def output_sizes_mb(out_dir: Path) -> dict[str, float]:
    """Sizes (MB) of a run's big outputs: ``coverage_pairs_mb`` (the exported siting pairs,
    ``.csv.gz`` or an older run's ``.csv``), ``maps_mb`` (every map page), ``gpkg_mb`` (every
    GeoPackage), ``xlsx_mb`` (the workbook), ``csv_mb`` (every other table) and ``outputs_mb`` (the
    whole folder)."""
    files = [p for p in Path(out_dir).rglob("*") if p.is_file()]

    def mb(paths) -> float:
        return round(sum(p.stat().st_size for p in paths) / 1e6, 1)

    pairs = [p for p in files if p.name.startswith("coverage_pairs.")]
    return {"coverage_pairs_mb": mb(pairs), "maps_mb": mb(p for p in files if p.suffix == ".html"),
            "gpkg_mb": mb(p for p in files if p.suffix == ".gpkg"),
            "xlsx_mb": mb(p for p in files if p.suffix == ".xlsx"),
            "csv_mb": mb(p for p in files if p.suffix == ".csv" and p not in pairs), "outputs_mb": mb(files)}


def main(argv) -> dict:
    ap = argparse.ArgumentParser(prog="load")
    ap.add_argument("--suppliers", type=int, default=5000)
    ap.add_argument("--extra-candidates", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--keep", type=Path, default=None, help="build and keep the scenario in this folder")
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="network cache folder (default the demo's data/processed; an empty one = clean checkout)")
    args = ap.parse_args(argv)
    os.environ.setdefault("PLANNER_DATA_DIR", str(ROOT.parent / "shared" / "data"))

    with tempfile.TemporaryDirectory(prefix="planner-load-") as tmp:
        folder = args.keep or Path(tmp)
        t0 = time.perf_counter()
        path = build_load_scenario(folder, args.suppliers, args.extra_candidates, args.seed, cache_dir=args.cache_dir)
        t_build = time.perf_counter() - t0
        res = run_scenario(path)
        out_dir = folder / "output" / "yizhuang_load"
        manifest = json.loads((out_dir / "run.json").read_text())
        problem = next(out_dir.rglob("problem.json"), None)
        info = json.loads(problem.read_text()).get("info", {}) if problem else {}
        summary = json.loads((out_dir / "siting" / "summary.json").read_text())
        sizes = output_sizes_mb(out_dir)

    counts, timings = manifest["counts"], manifest["timings_s"]
    cache = manifest.get("network", {}).get("cache", {})
    read = info.get("candidates_read", {})
    print(f"scenario: {counts.get('suppliers')} suppliers, {counts.get('plants')} plants, "
          f"{counts.get('siting_candidates')} siting candidates on the network (read: "
          f"{', '.join(f'{k} {v}' for k, v in read.items())}; off the network: {info.get('candidates_off_network', 0)}); "
          f"network cache {'hit' if cache.get('hit') else 'built'}; scenario built in {t_build:.1f} s")
    print(f"\n{'step':24s} {'seconds':>8s} {'peak RSS MB':>12s}")
    steps = res["step_peak_mb"]
    print(f"{'start-up':24s} {'':>8s} {steps.get('start-up', float('nan')):12.0f}")
    for step, s in timings.items():
        print(f"{step:24s} {s:8.1f} {steps.get(step, float('nan')):12.0f}")
    print(f"{'whole run (wall)':24s} {res['seconds']:8.1f} {res['peak_mb']:12.0f}")
    peak_step = max(steps, key=steps.get)
    print(f"\nbiggest step: {peak_step} ({steps[peak_step]:.0f} MB sampled)")
    print("outputs (MB): " + ", ".join(f"{k[:-3]} {v:.1f}" for k, v in sizes.items()))
    within = res["peak_mb"] <= LIMIT_MB
    print(f"siting solve: {summary['status']}, gap {100 * summary['gap']:.4f} % (asked: within 0.1 % in "
          f"{timings.get('siting solve', float('nan')):.1f} s; solver {summary['solver']}), step peak "
          f"{steps.get('siting solve', float('nan')):.0f} MB (asked: under {SITING_TARGET_MB} MB)")
    print(f"peak memory of the run: {res['peak_mb']:.0f} MB (limit asked: {LIMIT_MB:,} MB) — "
          f"{'within' if within else 'OVER'}; per-step figures are sampled every 0.1 s; peak_mb on the RESULT "
          f"line is this benchmark's own process (building the scenario), not the run")
    out = {"suppliers": counts.get("suppliers"), "candidates": counts.get("siting_candidates"),
           "run_s": round(res["seconds"], 1), "run_peak_mb": round(res["peak_mb"], 1),
           "limit_mb": LIMIT_MB, "within": within, "siting_status": summary["status"],
           "siting_gap_pct": round(100 * summary["gap"], 4), "siting_solve_s": round(timings.get("siting solve", float("nan")), 1),
           "siting_objective": round(summary["objective"], 6),
           "siting_peak_mb": round(steps.get("siting solve", float("nan")), 1),
           "peak_step": peak_step.replace(" ", "_"), "peak_step_mb": round(steps[peak_step], 1),
           "write_outputs_s": round(timings.get("write outputs", float("nan")), 1),
           "maps_s": round(timings.get("maps", float("nan")), 1), **sizes}
    if read:
        out["candidates_read"] = sum(read.values())
    return out
