"""Typed errors with one-line messages written for a planner.

Every error the planner raises on bad input is a :class:`PlannerError`; errors about the
caller's input (:class:`InputError`, :class:`ScenarioError`, :class:`SnapError`) are also
:class:`ValueError`, so library callers can catch them the usual way. The CLI prints
``str(err)`` (one line) and exits non-zero; the traceback is shown only with ``--debug``.
"""
from __future__ import annotations


class PlannerError(Exception):
    """Base class of every error the planner raises on purpose."""

    exit_code = 2

    def __init__(self, message: str):
        # keep the message on one line whatever the caller passed
        super().__init__(" ".join(str(message).split()))


class InputError(PlannerError, ValueError):
    """A user file (sites list, road layer, candidate list...) is unusable.

    The message names the file, and the row and column where known. Rows are 1-based
    data rows as a spreadsheet user counts them (header = row 1, first data row = row 2)
    unless ``row_label`` says otherwise.
    """

    def __init__(self, message: str, path=None, row=None, column=None):
        self.path, self.row, self.column = path, row, column
        where = []
        if path is not None:
            where.append(str(path))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ScenarioError(PlannerError, ValueError):
    """The scenario file is invalid; the message names the key."""

    def __init__(self, message: str, path=None, key=None):
        self.path, self.key = path, key
        where = ": ".join(str(p) for p in (path, key) if p)
        super().__init__(f"{where}: {message}" if where else message)


class NetworkError(PlannerError):
    """The road network cannot be loaded, downloaded or routed on."""


class SnapError(PlannerError, ValueError):
    """Points lie farther from the road network than the allowed snap distance."""


class SolverError(PlannerError):
    """An optimisation model is infeasible or could not be solved."""
