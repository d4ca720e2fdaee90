"""Shared hyperparameters and constants of the Hamiltonian and Langevin (SDE) scheme families."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..models import QuadraticProblem
from ._base import REQUIRED, Scheme, nonnegative, positive

__all__ = ["HamiltonianScheme", "LangevinScheme", "layer_inv_mass"]


def layer_inv_mass(layers) -> np.ndarray:
    """Layerwise inverse mass of seed 000 eq. 5, one entry per parameter.

    ``M_l^-1 = clip(1 / sqrt(max(1, fan_in_l)), 1/8, 8)`` for a layer with fan-in ``fan_in_l``;
    parameters given ``fan_in = None`` (biases, normalisation) get ``M^-1 = 1``.

    Parameters
    ----------
    layers : sequence of (n_params, fan_in)
        Parameter count and fan-in (or None) of each layer, in parameter order.

    Returns
    -------
    (d,) ndarray, ``d = sum(n_params)``: pass as ``inv_mass=`` to a Hamiltonian scheme.
    """
    parts = []
    for n_params, fan_in in layers:
        if int(n_params) != n_params or n_params < 1:
            raise ShapeError(f"layer parameter counts must be positive integers; got {n_params!r}")
        m = (
            1.0
            if fan_in is None
            else float(np.clip(1.0 / np.sqrt(max(1.0, fan_in)), 1.0 / 8.0, 8.0))
        )
        parts.append(np.full(int(n_params), m))
    if not parts:
        raise ShapeError("layers must list at least one layer")
    return np.concatenate(parts)


class HamiltonianScheme(Scheme):
    """Integrators of ``theta' = M^-1 p, p' = -grad V(theta) - friction p`` with step ``dt``.

    ``V(theta) = L_B(theta) + weight_decay / 2 |theta|^2`` uses the problem's stochastic gradient
    (one minibatch / noise draw per step, shared by every gradient evaluation of the step, so
    each step is the exact scheme for the Hamiltonian ``1/2 p^T M^-1 p + V_B``); ``inv_mass`` is
    a scalar or a (d,) diagonal (see :func:`layer_inv_mass`). The recorded energy is
    ``H = 1/2 p^T M^-1 p + L(theta) + weight_decay / 2 |theta|^2`` with the full loss L.
    """

    kind = "hamiltonian"
    hamiltonian = True
    hyper = {"dt": REQUIRED, "inv_mass": 1.0, "weight_decay": 0.0, "batch_size": 1}

    def _check(self, values):
        out = {
            "dt": positive(values["dt"], "dt"),
            "inv_mass": self._inv_mass(values["inv_mass"]),
            "weight_decay": nonnegative(values["weight_decay"], "weight_decay"),
            "batch_size": self._batch_size(values["batch_size"]),
        }
        if "friction" in values:
            out["friction"] = nonnegative(values["friction"], "friction")
        return out

    def recorded_inv_mass(self):
        return self.params["inv_mass"]


class LangevinScheme(Scheme):
    """Solvers of the SDE of SGD with momentum on a quadratic (Kunin et al. 2021, eq. 3)::

        d theta = v dt
        dv = -(c1 (grad L(theta) + weight_decay theta) + c2 v) dt
             + sqrt(2 c2 / kappa) Sigma^{1/2} dW

    with ``c1 = 2 / (lr (1 + momentum))``, ``c2 = 2 (1 - momentum) / (lr (1 + momentum))``,
    ``kappa = batch_size (1 - momentum^2)``, in SDE time ``t = lr k``; the step ``dt`` is in
    SDE time (default ``lr``: one SDE step per SGD step). Sigma is the quadratic's
    ``noise_cov`` (None: the deterministic damped flow).
    """

    kind = "sde"
    stochastic = True
    minibatch = False
    hyper = {"lr": REQUIRED, "momentum": 0.0, "weight_decay": 0.0, "batch_size": 1, "dt": None}

    def _check(self, values):
        if not isinstance(self.problem, QuadraticProblem):
            raise ShapeError(
                f"scheme {self.name!r} integrates the Gaussian SDE of a QuadraticProblem; "
                "convert a linear regression with problem.as_quadratic()"
            )
        hp = self._heavy_ball(values)
        #: the optimizer whose SDE this is (its constants c1, c2, kappa)
        self.heavy_ball = hp
        return {
            "lr": hp.lr,
            "momentum": hp.momentum,
            "weight_decay": hp.weight_decay,
            "batch_size": hp.batch_size,
            "dt": hp.lr if values["dt"] is None else positive(values["dt"], "dt"),
        }

    @property
    def c1(self) -> float:
        """Force coefficient ``2 / (lr (1 + momentum))`` (:attr:`dynlab.hyper.HeavyBall.c1`)."""
        return self.heavy_ball.c1

    @property
    def c2(self) -> float:
        """Friction ``2 (1 - momentum) / (lr (1 + momentum))`` (:attr:`HeavyBall.c2`)."""
        return self.heavy_ball.c2

    @property
    def kappa(self) -> float:
        """Inverse temperature ``batch_size (1 - momentum^2)`` (:attr:`HeavyBall.kappa`)."""
        return self.heavy_ball.kappa
