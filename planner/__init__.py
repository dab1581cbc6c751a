"""Yizhuang supply-radius and charging-infrastructure planner."""
from planner.errors import (  # noqa: F401
    InputError,
    NetworkError,
    PlannerError,
    ScenarioError,
    SnapError,
    SolverError,
)

__version__ = "0.1.0"
