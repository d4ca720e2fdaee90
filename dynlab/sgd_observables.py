r"""Observables of :class:`dynlab.sgd.SGDPhaseSpace`: speed, displacement, diffusion exponent,
mean trajectory and equipartition (Kunin et al. 2021, arXiv:2107.09133, eqs. 5, 12, 13, sec. 8,
app. G), each in the SDE and in the exact recursion, evaluated per mode through
:mod:`dynlab.modes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import modes
from ._validate import as_array, as_flag, steps_arguments
from .errors import (
    ShapeError,
)
from .spectrum import FIELDS

__all__ = ["Equipartition", "Observables"]

#: Sweeps: the per-mode closed forms run on blocks of this many (optimizer, mode) pairs (512 KiB
#: per float64 array), so that their elementwise passes stay in the CPU cache.
_BLOCK_ELEMENTS = 2**16


@dataclass(frozen=True)
class Equipartition:
    r"""The equipartition identity of seed 003 appendix G.3, with its constant re-derived.

    At stationarity ``E[L_lambda(theta)] - L_lambda(mu) = E[K(v)]`` where
    ``L_lambda = L + lambda/2 ||theta||^2`` and ``K(v) = m/2 ||v||^2`` with the per-parameter mass
    ``m = lr (1 + beta) / 2`` (the mass of the Langevin equation, seed 003 eq. 3). Both sides equal
    ``lr tr(Sigma) / (4 S (1 - beta))`` in the SDE; in the exact recursion the identity still holds
    exactly, mode by mode, and each mode's share is ``lr Sigma_ii / (4 S (1 - beta))`` divided by
    ``1 - lr (rho_i + lambda) / (2 (1 + beta))``.
    """

    mass: float
    potential: float
    kinetic: float


class Observables:
    """Mixin of :class:`~dynlab.sgd.SGDPhaseSpace`: what a simulation measures, predicted."""

    def speed(self, exact: bool = False) -> float:
        r"""Instantaneous speed ``E||theta_{k+1} - theta_k||^2`` at stationarity.

        SDE (seed 003 eq. 12): ``lr^2 tr(Var v) = lr^2 tr(Sigma) / (S (1 - beta^2))``.
        Exact: ``lr^2 tr(P_vv)``, P the stationary covariance of the recursion.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> P = m.discrete.stationary_cov()                 # exact: lr^2 tr Var v
        >>> bool(np.isclose(m.speed(exact=True), 0.1**2 * np.trace(P[2:, 2:])))
        True
        >>> bool(np.isclose(m.speed(), 0.1**2 * 0.5 * 3.0 / (4 * 0.19)))  # lr^2 tr Sigma / kappa
        True
        """
        if as_flag(exact, "exact"):
            var_v = self.mode_variances(exact=True)[1]
            return self._result(self.lr**2 * np.sum(var_v, axis=-1))
        return self._result(self.lr**2 * np.sum(self._sigma_diag) / self.kappa)

    def mode_variances(self, exact: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""Stationary ``(Var theta_i, Var v_i, Cov(theta_i, v_i))`` of each eigenmode of H.

        Kunin et al. (2021, arXiv:2107.09133, app. F) for the SDE, the Stein equation's diagonal
        for the exact recursion (:func:`dynlab.modes.stationary_mode_variances`). Shape
        ``shape + (d,)``: a sweep's axes first, then the modes (descending rho). Computed once
        per model (cached, read-only arrays).

        Examples
        --------
        >>> import numpy as np
        >>> from dynlab.hyper import HeavyBall
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> H, lrs = np.diag([2.0, 1.0]), np.array([0.1, 0.2, 0.4])
        >>> sweep = SGDPhaseSpace(
        ...     H, hyper=HeavyBall(lr=lrs, momentum=0.5), noise_cov=("hessian", 0.5)
        ... )
        >>> one = [SGDPhaseSpace(H, lr=lr, momentum=0.5, noise_cov=("hessian", 0.5)) for lr in lrs]
        >>> ref = np.array([m.discrete.stationary_cov().diagonal()[:2] for m in one])
        >>> bool(np.allclose(sweep.mode_variances(exact=True)[0], ref, rtol=1e-13))
        True
        """
        exact = as_flag(exact, "exact")
        cache = self.__dict__.setdefault("_mode_variances", {})
        if exact not in cache:
            cache[exact] = tuple(
                np.reshape(a, self.shape + (self.d,))
                for a in self._by_optimizers(
                    lambda hp: modes.stationary_mode_variances(
                        self.rho, self._sigma_diag, hyper=hp, exact=exact
                    )
                )
            )
            for a in cache[exact]:
                a.flags.writeable = False
        return cache[exact]

    def _by_optimizers(self, per_mode_fn) -> tuple[np.ndarray, ...]:
        """``per_mode_fn(hyper)`` for blocks of a sweep's optimizers, stacked: ``(n, d)`` arrays.

        Blocks of :data:`_BLOCK_ELEMENTS` (optimizer, mode) pairs keep the closed forms' ~25
        elementwise passes in cache instead of streaming the whole grid through memory each time.
        """
        hp = self._per_mode
        if self.hyper.is_scalar:
            return per_mode_fn(hp)
        n = int(np.prod(self.shape))
        fields = {f: np.reshape(np.broadcast_to(getattr(hp, f), hp.shape), (n, 1)) for f in FIELDS}
        rows = max(1, _BLOCK_ELEMENTS // self.d)
        out = None
        for start in range(0, n, rows):
            part = per_mode_fn(
                hp.replace(**{f: v[start : start + rows] for f, v in fields.items()})
            )
            if out is None:
                out = tuple(np.empty((n, self.d)) for _ in part)
            for o, p in zip(out, part):
                o[start : start + rows] = p
        return out

    def _mode_var_theta(self, exact: bool) -> np.ndarray:
        return self.mode_variances(exact)[0]

    def _lag_axes(self, x, k: np.ndarray) -> np.ndarray:
        """A sweep-shaped ``x`` with unit axes for the lags ``k`` and the modes after it."""
        return np.reshape(np.broadcast_to(x, self.shape), self.shape + (1,) * (k.ndim + 1))

    def _sde_lags(self, k: np.ndarray):
        """``(t, gamma, omega)`` shaped ``shape + k.shape + (1 or d,)``, ``t = lr k``."""
        t = self._lag_axes(self.lr, k) * k[..., None]
        gamma = self._lag_axes(self.hyper.gamma, k)
        omega = np.reshape(self.hyper.omega(self.rho), self.shape + (1,) * k.ndim + (self.d,))
        return t, gamma, omega

    def _mode_sum(self, per_mode: np.ndarray, weights: np.ndarray, k: np.ndarray):
        """``sum_i per_mode[..., i] weights[..., i]`` with weights of shape ``shape + (d,)``."""
        w = np.reshape(
            np.broadcast_to(weights, self.shape + (self.d,)), self.shape + (1,) * k.ndim + (self.d,)
        )
        return np.vecdot(per_mode, w)

    def displacement(self, *args, steps=None, exact: bool = False, k=None, time=None) -> np.ndarray:
        r"""Global displacement ``E||theta_k - theta_0||^2`` from stationarity after k steps.

        ``steps`` (keyword) is the number k of optimizer steps, an array; the SDE time is
        ``t = lr k`` (non-integer k is allowed in the SDE, not with ``exact=True``).

        SDE: ``(2 / kappa) tr(B_thth - (B e^{-A^T t})_thth)`` at ``t = lr k`` (docs/theory.md,
        "Displacement from stationarity"; Kunin et al. 2021, arXiv:2107.09133, eq. 13 writes it
        through velocity correlations, see :meth:`displacement_eq13`), evaluated
        per mode as ``2 sum_i Var(theta_i) (1 - phi_11,i(t))`` (:func:`dynlab.modes.relaxation`).
        Exact: ``2 tr P_thth - 2 tr(F^k P)_thth`` = ``2 sum_i Var(theta_i) u_i(k)``
        (:func:`dynlab.modes.discrete_relaxation`). Both saturate at ``2 tr Var(theta)``.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> F, P = m.discrete.F, scipy.linalg.solve_discrete_lyapunov(
        ...     m.discrete.F, m.discrete.G @ m.discrete.noise_cov @ m.discrete.G.T)
        >>> FkP = np.linalg.matrix_power(F, 7) @ P
        >>> D7 = m.displacement(steps=7, exact=True)
        >>> bool(np.isclose(D7, 2 * np.trace(P[:2, :2] - FkP[:2, :2])))
        True
        """
        a = steps_arguments(
            "SGDPhaseSpace.displacement", args, {"steps": steps, "exact": exact}, k=k, time=time
        )
        k, exact = as_array(a["steps"], "steps"), a["exact"]
        if np.any(k < 0):
            raise ShapeError("steps must be >= 0 (number of optimizer steps)")
        var = self._mode_var_theta(exact)
        if exact:
            u = modes.discrete_relaxation(k, self.rho, hyper=self._per_mode)
            # lags first there: move the sweep's axes in front
            u = np.moveaxis(u, tuple(range(k.ndim)), tuple(range(-k.ndim - 1, -1)))
            return 2.0 * self._mode_sum(u, var, k)
        return 2.0 * self._mode_sum(modes.relaxation(*self._sde_lags(k)), var, k)

    def displacement_eq13(self, *args, steps=None, k=None, time=None) -> np.ndarray:
        r"""The paper's velocity-correlation form of ``E||theta_k - theta_0||^2``.

        ``steps`` (keyword): the numbers k of optimizer steps (non-negative integers).

        Kunin et al. (2021, arXiv:2107.09133, eq. 13, app. G.2).

        ``lr^2 / kappa sum_l Sigma_ll [k + 2 sum_{tau=1}^{k-1} (k - tau) C_l(lr tau)]`` with the
        SDE's stationary velocity autocorrelation ``C_l(t) = e^{-gamma t} (C(t) - gamma S(t))``
        (the paper's
        cosh/cos forms) sampled at whole steps. It mixes the discrete sum over steps with the
        continuous-time correlation, so it is not the exact trace form :meth:`displacement`: by
        Euler-Maclaurin (the kink of ``C_l(|s - s'|)`` at zero lag),
        ``eq13 - trace = lr^2 / kappa sum_l Sigma_ll (1 + 2 gamma t - C_l(t)) / 6`` to relative
        order (lr omega)^2, (lr gamma)^2. The gap grows linearly in t: the eq. 13 form does not
        saturate, whereas the process's displacement does.
        Cost O(max(k) d).

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> one_step = m.lr**2 * 0.5 * 3.0 / m.kappa             # lr^2 tr Sigma / kappa
        >>> bool(np.isclose(m.displacement_eq13(steps=1), one_step))
        True
        """
        a = steps_arguments(
            "SGDPhaseSpace.displacement_eq13", args, {"steps": steps}, k=k, time=time
        )
        k = as_array(a["steps"], "steps")
        if np.any(k < 0) or np.any(k != np.round(k)):
            raise ShapeError("steps must hold non-negative integers (optimizer steps)")
        self._one("displacement_eq13")
        w = self._sigma_diag
        kmax = int(k.max(initial=0))
        m = self.modes
        c = np.zeros(max(kmax, 1))  # c[tau] = sum_l w_l C_l(lr tau), tau = 0..kmax-1
        chunk = max(1, 2_000_000 // max(self.d, 1))
        for start in range(1, kmax, chunk):
            tau = np.arange(start, min(start + chunk, kmax))
            c[tau] = modes.mode_propagator(self.lr * tau[:, None], m.gamma, m.omega)[3] @ w
        tau = np.arange(c.size)
        S1, S2 = np.cumsum(c), np.cumsum(tau * c)  # sums over tau = 1..j (c[0] = 0)
        ki = k.astype(np.int64)
        j = np.maximum(ki - 1, 0)
        return self.lr**2 / self.kappa * (ki * np.sum(w) + 2.0 * (ki * S1[j] - S2[j]))

    def diffusion_exponent(
        self, *args, steps=None, exact: bool = False, k=None, time=None
    ) -> np.ndarray:
        r"""Local exponent ``c(k) = d log E||Delta_k||^2 / d log k`` (seed 003 sec. 8, Fig. 6-7).

        ``steps`` (keyword): the numbers k > 0 of optimizer steps (SDE time ``t = lr k``).

        SDE: the analytic derivative,
        ``t sum_i Var_i omega_i^2 phi_12,i(t) / sum_i Var_i (1 - phi_11,i(t))`` at ``t = lr k``
        (``d(1 - phi_11)/dt = omega^2 phi_12``). Exact: on the integer step grid, the
        centred secant ``log(D_{k+1} / D_{k-1}) / log((k+1)/(k-1))`` (forward secant at k = 1).
        c = 1 is Brownian diffusion; c -> 2 ballistic (k small), c -> 0 saturated (k large).

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> bool(abs(m.diffusion_exponent(steps=1e-4) - 2.0) < 1e-3)      # ballistic at short times
        True
        """
        a = steps_arguments(
            "SGDPhaseSpace.diffusion_exponent",
            args,
            {"steps": steps, "exact": exact},
            k=k,
            time=time,
        )
        k, exact = as_array(a["steps"], "steps"), a["exact"]
        if np.any(k <= 0):
            raise ShapeError("steps must be > 0")
        var = self._mode_var_theta(exact)
        if exact:
            if np.any(k < 1) or np.any(k != np.round(k)):
                raise ShapeError("exact=True needs integer steps >= 1")
            lo = np.where(k > 1, k - 1, k)
            D_hi = self.displacement(steps=k + 1, exact=True)
            D_lo = self.displacement(steps=lo, exact=True)
            return np.log(D_hi / D_lo) / np.log((k + 1) / lo)
        t, gamma, omega = self._sde_lags(k)
        phi12 = modes.mode_propagator(t, gamma, omega)[1]
        num = self._mode_sum(phi12 * omega**2, var, k)
        return t[..., 0] * num / self._mode_sum(modes.relaxation(t, gamma, omega), var, k)

    def mean(
        self, *args, steps=None, theta0=None, v0=None, exact: bool = False, k=None, time=None
    ) -> tuple[np.ndarray, np.ndarray]:
        r"""Mean trajectory ``(E theta_k, E v_k)`` from ``(theta0, v0)`` (seed 003 eq. 5).

        ``steps`` (keyword): the numbers k >= 0 of optimizer steps (SDE time ``t = lr k``);
        ``theta0`` is required.

        SDE: ``E[theta] = mu + sum_i a_i(t) q_i``, ``E[v] = sum_i b_i(t) q_i`` with the damped
        oscillators of :func:`dynlab.modes.oscillator_mean` at ``t = lr k``. Exact: the recursion's
        ``F^k`` per mode (:func:`dynlab.modes.discrete_propagator`). Shapes ``k.shape + (d,)``.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> theta, v = m.mean(steps=5, theta0=np.zeros(2), exact=True)
        >>> z_star = np.concatenate([m.mu, np.zeros(2)])
        >>> z5 = z_star + np.linalg.matrix_power(m.discrete.F, 5) @ (0 - z_star)
        >>> bool(np.allclose(np.concatenate([theta, v]), z5))
        True
        """
        a = steps_arguments(
            "SGDPhaseSpace.mean",
            args,
            {"steps": steps, "theta0": theta0, "v0": v0, "exact": exact},
            k=k,
            time=time,
        )
        k, theta0, v0, exact = a["steps"], a["theta0"], a["v0"], a["exact"]
        hp = self._one("mean")
        k = as_array(k, "steps")
        if np.any(k < 0):
            raise ShapeError("steps must be >= 0 (number of optimizer steps from theta0)")
        if theta0 is None:
            raise ShapeError("theta0 is required: the start of the mean trajectory")
        theta0 = as_array(theta0, "theta0", shape=(self.d,))
        v0 = np.zeros(self.d) if v0 is None else as_array(v0, "v0", shape=(self.d,))
        a0, b0 = self.q.T @ (theta0 - self.mu), self.q.T @ v0
        kk = k[..., None]
        if as_flag(exact, "exact"):
            if np.any(k != np.round(k)):
                raise ShapeError("exact=True needs integer steps")
            f11, f12, f21, f22 = modes.discrete_propagator(kk, self.rho, hyper=hp)
        else:
            f11, f12, f21, f22 = modes.mode_propagator(
                self.lr * kk, self.modes.gamma, self.modes.omega
            )
        a, b = f11 * a0 + f12 * b0, f21 * a0 + f22 * b0
        return self.mu + a @ self.q.T, b @ self.q.T

    def equipartition(self, exact: bool = False) -> Equipartition:
        r"""Both sides of the equipartition identity (see :class:`Equipartition`).

        Kunin et al. (2021, arXiv:2107.09133, app. G.3).

        ``potential = 1/2 tr((H + lambda I) Var theta)``, ``kinetic = m/2 tr(Var v)`` with
        ``m = lr (1 + beta) / 2``; they agree exactly in both models.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.sgd import SGDPhaseSpace
        >>> m = SGDPhaseSpace(np.diag([2.0, 1.0]), [1.0, 1.0], lr=0.1, momentum=0.9, batch_size=4,
        ...                   noise_cov=("hessian", 0.5))
        >>> e = m.equipartition()          # SDE: both sides lr tr Sigma / (4 S (1 - beta))
        >>> bool(np.isclose(e.potential, e.kinetic))
        True
        >>> bool(np.isclose(e.kinetic, 0.1 * 1.5 / (4 * 4 * 0.1)))
        True
        """
        var_t, var_v, _ = self.mode_variances(exact)
        mass = self.hyper.mass
        k = self.rho + self._per_mode.weight_decay
        return Equipartition(
            mass=self._result(mass),
            potential=self._result(0.5 * np.sum(k * var_t, axis=-1)),
            kinetic=self._result(0.5 * mass * np.sum(var_v, axis=-1)),
        )
