"""What :func:`dynlab.integrators.run` records and returns: :class:`Recording`, :class:`Record`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ShapeError
from ..observables import ensemble_mean_sem

__all__ = ["Recording", "Record"]

_OBSERVABLES = (
    "loss",
    "delta2",
    "Delta2",
    "proj_theta",
    "proj_v",
    "energy",
    "energy_change",
    "cap",
    "theta_path",
    "v_path",
)


@dataclass(frozen=True)
class Recording:
    """What :func:`run` records.

    Parameters
    ----------
    every : int
        Record after steps ``every, 2 every, ...`` (``record_every``).
    basis : (d, p) array_like, optional
        Columns onto which theta and v are projected (e.g. top Hessian eigenvectors ``q_i``).
    trajectories : bool
        Also keep theta and v of every path at every recorded step (memory ``2 R M d``).
    """

    every: int = 1
    basis: np.ndarray | None = None
    trajectories: bool = False


@dataclass
class Record:
    """Observables of an ensemble run, per path, at the recorded steps.

    Arrays have shape ``(R, n_paths)`` (``(R, n_paths, p)`` for projections,
    ``(R, n_paths, d)`` for trajectories) with ``R = n_steps // every`` rows at the steps
    ``steps = every, 2 every, ...``. Row ``r`` describes the state ``z_k`` at ``k = steps[r]``:

    * ``loss`` -- ``L(theta_k)`` (full-batch loss, without weight decay);
    * ``delta2`` -- ``||delta_k||^2 = ||theta_k - theta_{k-1}||^2`` (seed 003 eq. 1);
    * ``Delta2`` -- ``||Delta_k||^2 = ||theta_k - theta_0||^2`` (seed 003 eq. 1);
    * ``proj_theta``, ``proj_v`` -- ``theta_k @ basis``, ``v_k @ basis`` (None without basis);
    * ``energy`` -- ``H(z_k) = 1/2 p^T M^-1 p + L(theta) + weight_decay/2 |theta|^2`` and
      ``energy_change`` -- ``H(z_k) - H(z_{k-1})`` (seed 000 eq. 1's ``Delta H_{k-1}``),
      Hamiltonian schemes only (else None);
    * ``cap`` -- energy-cap engagements in steps ``(k - every, k]`` (seed 000 eq. 7), for
      ``damped_leapfrog`` with a cap (else None);
    * ``theta_path``, ``v_path`` -- full trajectories if asked (else None).

    ``theta``, ``v`` are the final states, ``state`` any further per-path state (Adam's
    ``exp_avg_sq``; the initial energies ``H0`` of a capped damped leapfrog). ``v`` is the
    scheme's second variable: heavy-ball velocity, ``-exp_avg`` for Adam, momentum ``p`` for
    Hamiltonian schemes, SDE velocity for SDE solvers.
    """

    scheme: str
    hyper: dict
    seed: np.random.SeedSequence
    n_paths: int
    n_steps: int
    every: int
    steps: np.ndarray
    loss: np.ndarray
    delta2: np.ndarray
    Delta2: np.ndarray
    theta: np.ndarray
    v: np.ndarray
    proj_theta: np.ndarray | None = None
    proj_v: np.ndarray | None = None
    energy: np.ndarray | None = None
    energy_change: np.ndarray | None = None
    cap: np.ndarray | None = None
    theta_path: np.ndarray | None = None
    v_path: np.ndarray | None = None
    state: dict = field(default_factory=dict)

    @property
    def time(self) -> np.ndarray:
        """Time of each row: ``steps * dt`` for Hamiltonian/SDE schemes, ``steps * lr`` for
        optimizers (the SDE time t = lr k of seed 003)."""
        h = self.hyper["dt"] if "dt" in self.hyper else self.hyper["lr"]
        return self.steps * h

    def _values(self, name: str) -> np.ndarray:
        if name not in _OBSERVABLES:
            raise ShapeError(f"unknown observable {name!r}; choose from {list(_OBSERVABLES)}")
        x = getattr(self, name)
        if x is None:
            raise ShapeError(f"observable {name!r} was not recorded in this run")
        return x

    def mean(self, name: str) -> np.ndarray:
        """Ensemble mean of an observable over paths, per recorded step."""
        return self._values(name).mean(axis=1)

    def sem(self, name: str) -> np.ndarray:
        """Standard error of :meth:`mean` (sample std with ddof 1 over sqrt(n_paths))."""
        return ensemble_mean_sem(self._values(name), axis=1)[1]
