"""Distance-decay functions that turn travel minutes into a coverage value in [0, 1].

Following ArcGIS Location-Allocation ("impedance transformation"), a demand point reached in
``d`` minutes from the nearest chosen facility contributes ``weight x f(d)``, with ``f(d) = 0``
beyond the cutoff (and for unreachable pairs). Kinds:

=============  ==========================================================
``"step"``     :math:`f(d) = 1` for :math:`d \\le c` (plain coverage)
``"linear"``   :math:`f(d) = 1 - d / c`  (0 at the cutoff)
``"exponential"`` :math:`f(d) = e^{-\\beta d}`
``"power"``    :math:`f(d) = (1 + d / s)^{-\\beta}`  (``s`` = ``scale`` minutes)
=============  ==========================================================

where :math:`c` is the cutoff (the model's radius when not given).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.errors import InputError

__all__ = ["Decay", "coverage_values"]

_KINDS = ("step", "linear", "exponential", "power")


@dataclass(frozen=True)
class Decay:
    """A distance-decay function.

    Parameters
    ----------
    kind : {"step", "linear", "exponential", "power"}
    beta : float
        Rate (per minute) for ``"exponential"``, exponent for ``"power"``.
    cutoff : float, optional
        Minutes beyond which the value is 0; defaults to the model's radius.
    scale : float
        Minutes scale of ``"power"``.
    """

    kind: str = "step"
    beta: float = 0.1
    cutoff: float | None = None
    scale: float = 1.0

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise InputError(f"unknown decay kind '{self.kind}'; use one of {', '.join(_KINDS)}")
        if not np.isfinite(self.beta) or self.beta < 0:
            raise InputError(f"decay beta must be a non-negative number, got {self.beta}")
        if self.cutoff is not None and not self.cutoff > 0:
            raise InputError(f"decay cutoff must be positive minutes, got {self.cutoff}")
        if not self.scale > 0:
            raise InputError(f"decay scale must be positive minutes, got {self.scale}")

    def __call__(self, minutes, cutoff: float | None = None) -> np.ndarray:
        """Values in [0, 1] for an array of travel minutes."""
        c = self.cutoff if self.cutoff is not None else cutoff
        if c is None:
            raise InputError("decay needs a cutoff (or a model radius)")
        d = np.asarray(minutes, dtype=float)
        inside = d <= c
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            if self.kind == "step":
                f = np.ones_like(d)
            elif self.kind == "linear":
                f = 1.0 - d / c
            elif self.kind == "exponential":
                f = np.exp(-self.beta * d)
            else:
                f = (1.0 + d / self.scale) ** (-self.beta)
        return np.where(inside, np.clip(f, 0.0, 1.0), 0.0)


def coverage_values(cost: np.ndarray, radius: float, decay: Decay | None = None):
    """Sparse CSR matrix of coverage values ``f(d_ij)`` (>0 only where covered)."""
    import scipy.sparse as sp

    cost = np.asarray(cost, dtype=float)
    cutoff = decay.cutoff if (decay is not None and decay.cutoff is not None) else radius
    rows, cols = np.nonzero(cost <= cutoff)
    d = cost[rows, cols]
    vals = np.ones(d.size) if decay is None else decay(d, cutoff)
    keep = vals > 0
    return sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=cost.shape)
