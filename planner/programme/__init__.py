"""Programmes: budget frontier, phasing to 2028 and scenario sweeps, run on Dask distributed.

- :func:`run_sweep` – every combination of a grid of scenario settings (``planner sweep``)
- :func:`budget_frontier` – coverage per technology against budget (``planner frontier``)
- :func:`phase_programme`, :func:`robustness` – stations year by year (``planner phase``)
"""
from planner.programme.engine import cluster_client, run_tasks
from planner.programme.frontier import budget_frontier, write_frontier
from planner.programme.grid import apply_overrides, combinations, parse_grid
from planner.programme.phasing import phase_programme, robustness, write_phasing
from planner.programme.sweep import run_sweep

__all__ = ["run_sweep", "budget_frontier", "write_frontier", "phase_programme", "robustness", "write_phasing",
           "parse_grid", "combinations", "apply_overrides", "cluster_client", "run_tasks"]
