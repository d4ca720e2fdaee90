"""Splitting schemes, one kernel: a step is a sequence of exact sub-flows.

* ``A(f)``: drift ``theta += f dt M^-1 p``;
* ``B(f)``: kick ``p -= f dt force (grad L_B(theta) + weight_decay theta)``;
* ``O(f)``: friction ``p <- exp(-friction f dt) p`` plus, for the Langevin SDE, the exact
  Ornstein-Uhlenbeck noise ``sqrt(1 - exp(-2 friction f dt)) (Sigma / kappa)^{1/2} z``.

Hamiltonian: leapfrog / velocity Verlet = B(1/2) A(1) B(1/2); symplectic Euler = B(1) A(1);
the damped leapfrog of seed 000 eqs. 2-4 = O(1/2) B(1/2) A(1) O(1/2) B(1/2) with the energy cap
of eq. 7. Langevin (seed 003 eq. 3; force c1, friction c2, M = I): BAOAB = B A O A B (halves,
O whole) and OBABO = O B A B O (halves, A whole), Leimkuhler & Matthews (2013).
"""

from __future__ import annotations

import numpy as np

from .._validate import as_scalar
from ..errors import HyperparameterError
from ._base import psd_sqrt
from ._families import HamiltonianScheme, LangevinScheme
from ._splitting_kernels import _A, _B, _O, _splitting_kernel

__all__ = ["Leapfrog", "DampedLeapfrog", "SymplecticEuler", "BAOAB", "OBABO"]


def _workspace(M, d):
    """Work arrays of the splitting kernel: gradients, H theta, losses."""
    return np.empty((M, d)), np.empty((M, d)), np.empty(M)


class _HamiltonianSplitting(HamiltonianScheme):
    """Hamiltonian splitting: ``_ops`` / ``_fracs`` give the composition."""

    symplectic = True
    linear_step = "splitting"
    _ops: tuple = ()
    _fracs: tuple = ()

    def _cap(self) -> float:
        return 0.0

    def workspace(self, M):
        return _workspace(M, self.d)

    def advance(self, loss, draws, rec, theta, v, state, work, k0, n, i0, i1):
        p = self.params
        H0 = state["H0"] if self.capped else np.zeros(theta.shape[0])
        _splitting_kernel(
            loss,
            draws,
            rec,
            theta,
            v,
            work,
            np.array(self._ops, dtype=np.int64),
            np.array(self._fracs, dtype=np.float64),
            p["dt"],
            p["inv_mass"],
            1.0,
            p.get("friction", 0.0),
            p["weight_decay"],
            False,
            self._cap(),
            H0,
            k0,
            n,
            i0,
            i1,
        )


class Leapfrog(_HamiltonianSplitting):
    """Leapfrog / velocity Verlet (kick-drift-kick), seed 000 eqs. 2-4 with no friction."""

    name = "leapfrog"
    order = 2
    reversible = True
    reference = "seed 000 eqs. 2-4 with gamma = 0 (Hairer, Lubich & Wanner 2006, sec. I.1.4)"
    _ops = (_B, _A, _B)
    _fracs = (0.5, 1.0, 0.5)


class SymplecticEuler(_HamiltonianSplitting):
    """Symplectic Euler: ``p_{k+1} = p_k - dt grad V(theta_k)``,
    ``theta_{k+1} = theta_k + dt M^-1 p_{k+1}``."""

    name = "symplectic_euler"
    order = 1
    reference = "Hairer, Lubich & Wanner 2006, Theorem VI.3.3"
    _ops = (_B, _A)
    _fracs = (1.0, 1.0)


class DampedLeapfrog(_HamiltonianSplitting):
    """Damped leapfrog of seed 000 eqs. 2-4 with mass preconditioning and the energy cap (eq. 7).

    ``friction`` is seed 000's gamma; ``cap`` is its alpha (None: no cap). With the cap, after
    every step whose energy exceeds ``cap * H0`` (H0 = energy at step 0, per path) the momentum
    is rescaled to ``sqrt(max(eps, cap H0 - V) / max(eps, K))``, eps = ``ENERGY_CAP_EPS``.
    With friction > 0 the map is conformally symplectic (the symplectic form shrinks by
    ``exp(-friction dt)`` per step), neither symplectic nor reversible, and only first order:
    eqs. 2 and 4 damp before each half kick, so a step misses ``friction dt^2 / 4 grad V`` of
    the exact damped flow (with friction 0 it is the second-order leapfrog).
    """

    name = "damped_leapfrog"
    order = 1
    symplectic = False
    reference = "seed 000 eqs. 2-4 (friction = gamma) and eq. 7 (cap = alpha)"
    hyper = {**HamiltonianScheme.hyper, "friction": 1e-3, "cap": None}
    _ops = (_O, _B, _A, _O, _B)
    _fracs = (0.5, 0.5, 1.0, 0.5, 0.5)

    def _check(self, values):
        out = super()._check(values)
        if values["cap"] is None:
            out["cap"] = None
        else:
            out["cap"] = as_scalar(values["cap"], "cap", low=1.0)
        return out

    @property
    def capped(self) -> bool:
        return self.params["cap"] is not None

    def _cap(self) -> float:
        return 0.0 if self.params["cap"] is None else self.params["cap"]

    def init_state(self, theta, v):
        if not self.capped:
            return {}
        p = self.params
        H0 = (
            0.5 * np.sum(p["inv_mass"] * v * v, axis=1)
            + self.problem.loss(theta)
            + 0.5 * p["weight_decay"] * np.sum(theta * theta, axis=1)
        )
        if np.any(H0 <= 0.0):
            raise HyperparameterError(
                "the energy cap of seed 000 eq. 7 needs a positive initial energy H0 on every path "
                f"(min H0 = {H0.min():.3g}); shift the loss (QuadraticProblem(..., c=...)) or "
                "start elsewhere"
            )
        return {"H0": H0}


class _LangevinSplitting(LangevinScheme):
    """BAOAB / OBABO for the SDE of seed 003 eq. 3."""

    linear_step = "splitting"
    strong_order = 1.0
    weak_order = 2.0
    _ops: tuple = ()
    _fracs: tuple = ()

    def noise(self):
        if self.noise_cov is None:
            return 0, self.d, None
        n_o = sum(op == _O for op in self._ops)
        return n_o, self.d, psd_sqrt(self.noise_cov) / np.sqrt(self.kappa)

    def workspace(self, M):
        return _workspace(M, self.d)

    def advance(self, loss, draws, rec, theta, v, state, work, k0, n, i0, i1):
        p = self.params
        _splitting_kernel(
            loss,
            draws,
            rec,
            theta,
            v,
            work,
            np.array(self._ops, dtype=np.int64),
            np.array(self._fracs, dtype=np.float64),
            p["dt"],
            np.ones(self.d),
            self.c1,
            self.c2,
            p["weight_decay"],
            True,
            0.0,
            np.zeros(theta.shape[0]),
            k0,
            n,
            i0,
            i1,
        )


class BAOAB(_LangevinSplitting):
    """BAOAB: B(1/2) A(1/2) O(1) A(1/2) B(1/2); one normal vector per step."""

    name = "baoab"
    reference = "Leimkuhler & Matthews 2013 (AMRX), applied to seed 003 eq. 3"
    _ops = (_B, _A, _O, _A, _B)
    _fracs = (0.5, 0.5, 1.0, 0.5, 0.5)


class OBABO(_LangevinSplitting):
    """OBABO: O(1/2) B(1/2) A(1) B(1/2) O(1/2); two normal vectors per step (slot 0, slot 1)."""

    name = "obabo"
    reference = "Leimkuhler & Matthews 2013 (AMRX), applied to seed 003 eq. 3"
    _ops = (_O, _B, _A, _B, _O)
    _fracs = (0.5, 0.5, 1.0, 0.5, 0.5)
