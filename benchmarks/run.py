"""Run one benchmark: ``python benchmarks/run.py NAME [args...]``.

Each benchmark lives in ``benchmarks/bench_<NAME>.py`` and defines ``main(argv) -> dict``; it prints
its own table and returns the figures that go on the closing ``RESULT key=value ...`` line.
Peak memory (max RSS of this process, MB) is appended to every RESULT line.
"""
from __future__ import annotations

import importlib
import resource
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _available() -> list[str]:
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        print("available:", ", ".join(_available()))
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in _available():
        print(f"unknown benchmark '{name}'; available: {', '.join(_available())}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE))
    module = importlib.import_module(f"bench_{name}")
    result = module.main(rest) or {}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.setdefault("peak_mb", round(peak_mb, 1))
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
