"""Demo benchmark: the Yizhuang scenario end to end, cold and warm network cache.

Cold: the network is rebuilt from the road layer (``--refresh-network``). Warm: the cached network
is read. Both run the whole scenario (coverage, isochrones, siting, maps, exports) in a fresh
process, as a planner would from the command line. Target: warm ≤ 60 s.

Usage: ``python benchmarks/run.py demo``
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(extra):
    env = dict(os.environ)
    env.setdefault("PLANNER_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    cmd = [sys.executable, "-m", "planner.cli", "run", str(ROOT / "scenarios" / "yizhuang.toml"), "--quiet", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"demo run failed: {proc.stderr.strip()}")
    return seconds


def main(argv) -> dict:
    cold = _run(["--refresh-network"])
    warm = _run([])
    import json

    manifest = json.loads((ROOT / "output" / "yizhuang" / "run.json").read_text())
    print(f"{'run':8s} {'seconds':>8s}")
    print(f"{'cold':8s} {cold:8.1f}")
    print(f"{'warm':8s} {warm:8.1f}")
    print("warm run steps (s):", ", ".join(f"{k} {v:.1f}" for k, v in manifest["timings_s"].items()))
    import resource

    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory of a run (largest child process): {child_mb:.0f} MB (limit asked: 2,048 MB)")
    return {"cold_s": round(cold, 1), "warm_s": round(warm, 1), "target_warm_s": 60,
            "cold_over_warm": round(cold / warm, 2), "run_peak_mb": round(child_mb, 1)}
