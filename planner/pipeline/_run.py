"""Bookkeeping of one run (timings, counts, warnings, inputs) and memory release between steps."""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tqdm import tqdm

from planner._io import sha256_file


class Run:
    """Bookkeeping of one run: timings, counts, warnings and inputs for the manifest."""

    def __init__(self, quiet: bool = True):
        self.quiet = quiet
        self.timings: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.warnings: list[str] = []
        self.inputs: dict[str, dict[str, str]] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time one step; print its start and end unless quiet.

        On a terminal, a step still running after :data:`BAR_DELAY_S` seconds shows a live tqdm
        line with the elapsed time (the steps have no known total, so it counts time, not items);
        when output goes to a file or pipe only the start and end lines are printed.
        """
        t0 = time.perf_counter()
        if not self.quiet:
            print(f"… {name}", flush=True)
        with _elapsed_bar(name, enabled=not self.quiet and sys.stdout.isatty()):
            yield
        self.timings[name] = round(time.perf_counter() - t0, 3)
        release_memory()
        if not self.quiet:
            print(f"✓ {name} ({self.timings[name]:.1f} s)", flush=True)

    def warn(self, message: str):
        self.warnings.append(message)
        if not self.quiet:
            print(f"warning: {message}", flush=True)

    def add_input(self, label: str, path: Path):
        path = Path(path)
        if path.exists() and path.is_file():
            self.inputs[label] = {"path": str(path), "sha256": sha256_file(path)}


#: seconds a step runs before its live progress line appears (shorter steps print no bar)
BAR_DELAY_S = 2.0


@contextmanager
def _elapsed_bar(name: str, enabled: bool, tick_s: float = 0.5) -> Iterator[None]:
    """A tqdm line counting the elapsed time of a step, refreshed by a background thread."""
    if not enabled:
        yield
        return
    done = threading.Event()
    start = time.time()  # tqdm's clock

    def tick() -> None:
        if done.wait(BAR_DELAY_S):
            return
        bar = tqdm(desc=name, bar_format="{desc}: {elapsed} elapsed", leave=False, file=sys.stdout,
                   dynamic_ncols=True)
        bar.start_t = start  # count from the start of the step, not from when the line appears
        try:
            while not done.wait(tick_s):
                bar.refresh()
        finally:
            bar.close()

    thread = threading.Thread(target=tick, name=f"progress: {name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


#: glibc's ``malloc_trim`` once looked up (``False`` where it is missing)
_malloc_trim: Any = None


def release_memory() -> None:
    """Hand memory freed by the last step back to the operating system.

    glibc keeps the memory of many small freed allocations (pandas and shapely objects, the
    MILP solver's search tree) in its arenas, so without this the resident size of a run stays
    at the level of its most demanding step for every later step (on the load benchmark, maps
    and exports ran at ~2 GB resident with under 1 GB in use). No-op where ``malloc_trim`` is
    missing (macOS, Windows, musl).
    """
    gc.collect()
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)
