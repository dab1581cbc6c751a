"""Input checks shared by the siting models; every failure is a one-line InputError."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from planner.errors import InputError

__all__ = ["as_cost_matrix", "as_weights", "as_index_set", "as_candidate_values", "first_ids"]


def first_ids(ids, positions, k: int = 5) -> str:
    """Text listing the first ``k`` ids at ``positions`` (for error messages)."""
    positions = np.asarray(positions)
    shown = [str(ids[i]) if ids is not None else str(int(i)) for i in positions[:k]]
    more = ", ..." if positions.size > k else ""
    return ", ".join(shown) + more


def as_cost_matrix(cost, name: str = "cost matrix") -> np.ndarray:
    """Return ``cost`` as a float64 2-D array of travel minutes (``inf`` = unreachable)."""
    if sp.issparse(cost):
        raise InputError(f"{name} must be dense (use inf for unreachable pairs), got a sparse matrix")
    if hasattr(cost, "to_numpy"):
        cost = cost.to_numpy()
    try:
        arr = np.asarray(cost, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} is not numeric: {exc}") from None
    if arr.ndim != 2:
        raise InputError(f"{name} must be 2-D (demand x candidates), got {arr.ndim}-D")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{name} is empty (shape {arr.shape})")
    bad = np.isnan(arr)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(f"{name} has {int(bad.sum())} NaN values (first at row {r}, column {c}); "
                         "use inf for unreachable pairs")
    neg = arr < 0
    if neg.any():
        r, c = np.argwhere(neg)[0]
        raise InputError(f"{name} has negative travel times (first at row {r}, column {c})")
    return arr


def as_weights(weights, n: int, name: str = "demand weights") -> np.ndarray:
    """Non-negative finite float vector of length ``n``; ``None`` gives ones."""
    if weights is None:
        return np.ones(n)
    if hasattr(weights, "to_numpy"):
        weights = weights.to_numpy()
    w = np.asarray(weights, dtype=float).reshape(-1)
    if w.size != n:
        raise InputError(f"{name} has {w.size} values but there are {n} rows")
    if not np.all(np.isfinite(w)):
        raise InputError(f"{name} contain NaN or infinite values (first at position "
                         f"{int(np.flatnonzero(~np.isfinite(w))[0])})")
    if np.any(w < 0):
        raise InputError(f"{name} must not be negative (first at position {int(np.flatnonzero(w < 0)[0])})")
    return w


def as_candidate_values(values, m: int, name: str, default: float = 0.0) -> np.ndarray:
    """Per-candidate non-negative numbers (cost, capacity); a scalar is broadcast."""
    if values is None:
        return np.full(m, float(default))
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    v = np.asarray(values, dtype=float)
    if v.ndim == 0:
        v = np.full(m, float(v))
    v = v.reshape(-1)
    if v.size != m:
        raise InputError(f"{name} has {v.size} values but there are {m} candidates")
    if np.any(np.isnan(v)) or np.any(v < 0):
        raise InputError(f"{name} must be non-negative numbers")
    return v


def as_index_set(spec, m: int, name: str) -> np.ndarray:
    """Sorted unique candidate positions from a boolean mask or a list of positions."""
    if spec is None:
        return np.zeros(0, dtype=np.int64)
    if hasattr(spec, "to_numpy"):
        spec = spec.to_numpy()
    arr = np.asarray(spec)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype == bool:
        if arr.size != m:
            raise InputError(f"{name} mask has {arr.size} entries but there are {m} candidates")
        return np.flatnonzero(arr).astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"{name} must be a boolean mask or integer positions")
    arr = np.unique(arr.astype(np.int64).reshape(-1))
    if arr.min() < 0 or arr.max() >= m:
        raise InputError(f"{name} has positions outside 0..{m - 1}")
    return arr
