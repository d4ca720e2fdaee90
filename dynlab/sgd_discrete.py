r"""The exact heavy-ball recursion of :class:`dynlab.sgd.SGDPhaseSpace` (no modelling error).

``z_{k+1} = F z_k + G xi_k + c`` (Kunin et al. 2021, arXiv:2107.09133, eq. 2, written as a linear
system; docs/theory.md), its stationary law (the Stein equation) and its transient moments,
evaluated per mode through :mod:`dynlab.modes`.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from . import modes
from ._linalg import sym
from ._validate import as_array, as_int, as_psd, steps_arguments
from .errors import (
    ShapeError,
)

__all__ = ["DiscreteSGD"]


class DiscreteSGD:
    r"""The exact heavy-ball recursion ``z_{k+1} = F z_k + G xi_k + c`` (docs/theory.md).

    Kunin et al. (2021, arXiv:2107.09133) eq. 2 written as a linear system (the paper models it
    by its SDE only).

    With ``K = H + lambda I``: ``F = [[I - lr K, lr beta I], [-K, beta I]]``,
    ``G = [[-lr I], [-I]]``,
    ``c = [lr b; b]``, ``xi_k ~ N(0, Sigma / S)``. Stable iff
    ``0 < lr (rho_i + lambda) < 2 (1 + beta)`` for every eigenvalue (checked by the model).
    """

    def __init__(self, model):
        self.model = model

    @cached_property
    def F(self) -> np.ndarray:
        """One-step matrix F (2d x 2d)."""
        m = self.model
        I = np.eye(m.d)
        K = m.H + m.weight_decay * I
        return m._blocks(I - m.lr * K, m.lr * m.momentum * I, -K, m.momentum * I)

    @cached_property
    def G(self) -> np.ndarray:
        """Noise input matrix G (2d x d)."""
        I = np.eye(self.model.d)
        return np.vstack([-self.model.lr * I, -I])

    @property
    def noise_cov(self) -> np.ndarray:
        """Minibatch gradient-noise covariance ``Sigma / S``."""
        return self.model.noise_cov / self.model.batch_size

    @property
    def c(self) -> np.ndarray:
        """Constant input ``[lr b; b]``."""
        return np.concatenate([self.model.lr * self.model.b, self.model.b])

    @property
    def spectral_radius(self) -> float:
        """Spectral radius of F (< 1 inside the stability region).

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> dz = m.discrete
        >>> bool(np.isclose(dz.spectral_radius, np.max(np.abs(np.linalg.eigvals(dz.F)))))
        True
        """
        return float(np.max(self.model.modes.spectral_radius))

    def stationary_mean(self) -> np.ndarray:
        """Fixed point ``[mu; 0]``.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> dz = m.discrete
        >>> z = dz.stationary_mean()                     # the fixed point of z -> F z + c
        >>> bool(np.allclose(dz.F @ z + dz.c, z))
        True
        """
        return np.concatenate([self.model.mu, np.zeros(self.model.d)])

    def _modal_P(self):
        m = self.model
        return modes.stationary_mode_covariances(
            m.rho[:, None],
            m.rho[None, :],
            m._sigma_modal,
            hyper=m.hyper,
            exact=True,
        )

    def stationary_cov(self) -> np.ndarray:
        r"""P solving the Stein equation ``P = F P F^T + G (Sigma / S) G^T``.

        Solved pairwise in the eigenbasis of H.

        See :func:`dynlab.modes.stationary_mode_covariances` (``exact=True``) for the closed forms.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> dz = m.discrete
        >>> P = scipy.linalg.solve_discrete_lyapunov(dz.F, dz.G @ dz.noise_cov @ dz.G.T)
        >>> bool(np.allclose(dz.stationary_cov(), P))
        True
        """
        q = self.model.q
        P_tt, P_tv, P_vt, P_vv = (q @ M @ q.T for M in self._modal_P())
        return sym(self.model._blocks(P_tt, P_tv, P_vt, P_vv))

    def _rotate(self, blocks) -> np.ndarray:
        q = self.model.q
        return self.model._blocks(*(q @ M @ q.T for M in blocks))

    def _power_modal(self, k: int):
        return modes.discrete_propagator(np.array(k), self.model.rho, hyper=self.model.hyper)

    def mean(self, *args, steps=None, z0=None, k=None, time=None) -> np.ndarray:
        """``E z_k = z* + F^k (z0 - z*)`` for ``z0`` of shape (2d,); shape ``k.shape + (2d,)``.

        ``steps`` (keyword): the integer numbers k >= 0 of optimizer steps.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> dz = m.discrete
        >>> z0 = np.array([1.0, 0.0, 0.0, 0.0])
        >>> z = z0
        >>> for _ in range(6):
        ...     z = dz.F @ z + dz.c
        >>> bool(np.allclose(dz.mean(steps=6, z0=z0), z))
        True
        """
        a = steps_arguments("DiscreteSGD.mean", args, {"steps": steps, "z0": z0}, k=k, time=time)
        if a["z0"] is None:
            raise ShapeError("z0 is required: the start [theta0; v0] of the mean trajectory")
        z0 = as_array(a["z0"], "z0", shape=(2 * self.model.d,))
        d = self.model.d
        th, v = self.model.mean(steps=a["steps"], theta0=z0[:d], v0=z0[d:], exact=True)
        return np.concatenate([th, v], axis=-1)

    def cov(self, *args, steps=None, P0=None, k=None, time=None) -> np.ndarray:
        r"""``Var z_k = P + F^k (P0 - P) F^{kT}`` for ``Var z_0 = P0`` (zero: fixed start).

        ``steps`` (keyword): one integer k >= 0, the number of optimizer steps.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> dz = m.discrete
        >>> Fj = [np.linalg.matrix_power(dz.F, j) for j in range(3)]
        >>> C3 = sum(F @ dz.G @ dz.noise_cov @ dz.G.T @ F.T for F in Fj)   # 3 steps, fixed start
        >>> bool(np.allclose(dz.cov(steps=3), C3))
        True
        """
        a = steps_arguments("DiscreteSGD.cov", args, {"steps": steps, "P0": P0}, k=k, time=time)
        k, P0 = as_int(a["steps"], "steps", low=0, error=ShapeError), a["P0"]
        m, q = self.model, self.model.q
        d = m.d
        P = self.stationary_cov()
        if P0 is None:
            P0 = np.zeros((2 * d, 2 * d))
        P0 = as_psd(P0, "P0", 2 * d)
        f11, f12, f21, f22 = self._power_modal(k)
        O = np.block([[q, np.zeros((d, d))], [np.zeros((d, d)), q]])
        Fk = O @ np.block([[np.diag(f11), np.diag(f12)], [np.diag(f21), np.diag(f22)]]) @ O.T
        return sym(P + Fk @ (P0 - P) @ Fk.T)

    def stationary_cross_cov(self, *args, steps=None, k=None, time=None) -> np.ndarray:
        r"""Stationary ``Cov(z_t, z_{t+k}) = P (F^k)^T`` (``steps`` = k >= 0 optimizer steps).

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> dz = m.discrete
        >>> P = scipy.linalg.solve_discrete_lyapunov(dz.F, dz.G @ dz.noise_cov @ dz.G.T)
        >>> F4 = np.linalg.matrix_power(dz.F, 4)
        >>> bool(np.allclose(dz.stationary_cross_cov(steps=4), P @ F4.T))
        True
        """
        a = steps_arguments(
            "DiscreteSGD.stationary_cross_cov", args, {"steps": steps}, k=k, time=time
        )
        k = as_int(a["steps"], "steps", low=0, error=ShapeError)
        f11, f12, f21, f22 = self._power_modal(k)
        P_tt, P_tv, P_vt, P_vv = self._modal_P()
        # modal (P F^kT): blocks [[P_tt, P_tv], [P_vt, P_vv]] times [[f11, f21], [f12, f22]]
        # (each block diagonal)
        return self._rotate(
            (
                P_tt * f11 + P_tv * f12,
                P_tt * f21 + P_tv * f22,
                P_vt * f11 + P_vv * f12,
                P_vt * f21 + P_vv * f22,
            )
        )
