r"""Exact per-step energy change of damped leapfrog on a quadratic loss (seed 000).

Seed 000's damped leapfrog (eqs. 2-4) with diagonal mass :math:`M^{-1}` and damping
:math:`a = e^{-\gamma\,dt/2}`,

.. math:: p_{1/2} = a p_t - \tfrac{dt}2 g(\theta_t),\quad
          \theta_{t+1} = \theta_t + dt\,M^{-1} p_{1/2},\quad
          p_{t+1} = a p_{1/2} - \tfrac{dt}2 g(\theta_{t+1}),

on :math:`L(\theta) = \frac12\theta^\top H\theta - b^\top\theta + c` with Gaussian minibatch
gradients :math:`g = H\theta - b + \xi`, :math:`\xi\sim N(0, \Sigma/S)`, is an affine map driven
by Gaussian noise: :math:`x_{t+1} = F x_t + G\eta_{t+1} + c_0`, :math:`\eta\sim N(0, I)`
(:class:`LeapfrogQuadratic`). The energy :math:`\mathcal H = \frac12 p^\top M^{-1} p + L(\theta)`
is a quadratic form of the state, so the per-step change :math:`\Delta\mathcal H_t =
\mathcal H(x_{t+1}) - \mathcal H(x_t)` is a quadratic form of the Gaussian vector
:math:`(x_t, \eta_{t+1})`: a generalized chi-square variable (:class:`GeneralizedChi2`),
:math:`\Delta\mathcal H = \sum_i \lambda_i w_i^2 + \beta_i w_i + c`, :math:`w \sim N(0, I)`.
Its CDF follows from the characteristic function by Gil-Pelaez inversion, and so does the exact
median of :math:`|\Delta\mathcal H|`: at stationarity (:meth:`LeapfrogQuadratic.stationary_drift`)
it is the large-window limit of seed 000's tail-median drift (eq. 1); over a finite window of
a run started from a given law, it is the median of the mixture of the per-step laws
(:meth:`LeapfrogQuadratic.window_drift`).

Where the gradients at :math:`\theta_t` and :math:`\theta_{t+1}` take their noise from is an
implementation choice; ``noise`` selects it:

* ``"step"``: one minibatch per step, both half-kicks use its noise (the same :math:`\xi`);
* ``"kick"``: a fresh minibatch for each half-kick (independent :math:`\xi_1, \xi_2`);
* ``"fsal"``: the gradient at :math:`\theta_{t+1}` is computed once and reused for the next
  step's first half-kick (state :math:`x = (\theta, p, \xi)`).

The energy cap of eq. 7 is not modelled (it makes the map nonlinear); :meth:`cap_probability`
gives the exact probability that a step's energy exceeds the cap threshold.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize
from scipy.linalg import solve_discrete_lyapunov

from . import config
from ._gchi2 import GeneralizedChi2, mixture_abs_quantile
from ._validate import as_array, as_positive_int, as_scalar, check_definite_spectrum
from .errors import HyperparameterError, ShapeError, StabilityRegionError, UnstableDriftError
from .models import LinearRegressionProblem, QuadraticProblem

__all__ = ["GeneralizedChi2", "LeapfrogQuadratic", "NOISE_MODES", "loglog_slope", "heuristic_fit"]

NOISE_MODES = ("step", "kick", "fsal")


# ----------------------------------------------------------------------------------------------
# Leapfrog on a quadratic as a linear-Gaussian recursion
# ----------------------------------------------------------------------------------------------


class LeapfrogQuadratic:
    r"""Seed 000's damped leapfrog (eqs. 2-4) on a quadratic with Gaussian gradient noise.

    Parameters
    ----------
    problem : QuadraticProblem or LinearRegressionProblem
        The loss (a regression problem is used through its quadratic form, with its gradient
        noise covariance estimated at the minimizer: the Gaussian additive noise model).
    dt : float
        Step size.
    gamma : float
        Damping rate (eq. 2, 4); ``a = exp(-gamma dt / 2)`` (the zoo's ``friction``).
    inv_mass : float or (d,) array_like
        Diagonal of :math:`M^{-1}` (eq. 5's layer-wise preconditioner for a one-layer model is
        the scalar ``clip(1 / sqrt(fan_in), 1/8, 8)``).
    weight_decay : float
        Adds ``weight_decay / 2 |theta|^2`` to the potential (and to the energy).
    batch_size : int
        S: the gradient noise is :math:`N(0, \Sigma/S)`; no noise if the problem has none.
    noise : {"step", "kick", "fsal"}
        Which gradients share a minibatch (module docstring).
    """

    def __init__(
        self,
        problem,
        *,
        dt: float,
        gamma: float = 0.0,
        inv_mass=1.0,
        weight_decay: float = 0.0,
        batch_size: int = 1,
        noise: str = "step",
    ):
        if isinstance(problem, LinearRegressionProblem):
            problem = problem.as_quadratic()
        if not isinstance(problem, QuadraticProblem):
            raise ShapeError(
                "problem must be a QuadraticProblem or LinearRegressionProblem; "
                f"got {type(problem).__name__}"
            )
        if noise not in NOISE_MODES:
            raise HyperparameterError(f"noise must be one of {NOISE_MODES}; got {noise!r}")
        self.problem = problem
        self.dt = as_scalar(dt, "dt", low=0.0, low_open=True)
        self.gamma = as_scalar(gamma, "gamma", low=0.0)
        self.weight_decay = as_scalar(weight_decay, "weight_decay", low=0.0)
        d = problem.d
        self._K = problem.H + self.weight_decay * np.eye(d)
        minv = as_array(inv_mass, "inv_mass")
        minv = np.full(d, float(minv)) if minv.ndim == 0 else as_array(minv, "inv_mass", shape=(d,))
        if np.any(minv <= 0.0):
            raise HyperparameterError("inv_mass must be positive")
        self.inv_mass = minv
        self.batch_size = as_positive_int(batch_size, "batch_size")
        self.noise = noise
        self.F, self.G, self.c = self._affine_map()

    @property
    def d(self) -> int:
        return self.problem.d

    @property
    def n_state(self) -> int:
        """Dimension of the state x: 2d, or 3d for "fsal" (theta, p, pending noise)."""
        return self.F.shape[0]

    def _half_kicks(self, theta, p, xi1, xi2):
        """One leapfrog step on column-stacked inputs (affine in all of them)."""
        H, b, h = self._K, self.problem.b[:, None], 0.5 * self.dt
        a = np.exp(-0.5 * self.gamma * self.dt)
        p_half = a * p - h * (H @ theta - b + xi1)
        theta1 = theta + self.dt * self.inv_mass[:, None] * p_half
        p1 = a * p_half - h * (H @ theta1 - b + xi2)
        return theta1, p1

    def _affine_map(self):
        d = self.d
        Lf = self.problem.noise_factor
        Lf = np.zeros((d, d)) if Lf is None else Lf / np.sqrt(self.batch_size)
        Z, I = np.zeros((d, d)), np.eye(d)

        def step(theta, p, xi1, xi2):
            return np.vstack(self._half_kicks(theta, p, xi1, xi2))

        z1 = np.zeros((d, 1))
        c = step(z1, z1, z1, z1)[:, 0]
        F = (
            step(np.hstack([I, Z]), np.hstack([Z, I]), np.zeros((d, 2 * d)), np.zeros((d, 2 * d)))
            - c[:, None]
        )
        G1 = step(Z, Z, I, Z) - c[:, None]  # response to the first half-kick's noise
        G2 = step(Z, Z, Z, I) - c[:, None]
        if self.noise == "step":
            return F, (G1 + G2) @ Lf, c
        if self.noise == "kick":
            return F, np.hstack([G1 @ Lf, G2 @ Lf]), c
        # fsal: x = (theta, p, xi) with xi the noise of the gradient at theta
        Faug = np.zeros((3 * d, 3 * d))
        Faug[: 2 * d, : 2 * d] = F
        Faug[: 2 * d, 2 * d :] = G1
        Gaug = np.vstack([G2 @ Lf, Lf])
        return Faug, Gaug, np.concatenate([c, np.zeros(d)])

    def energy_form(self):
        r"""(W, w, w0) with :math:`\mathcal H(x) = \frac12 x^\top W x + w^\top x + w_0`."""
        d, n = self.d, self.n_state
        W = np.zeros((n, n))
        W[:d, :d] = self._K
        W[d : 2 * d, d : 2 * d] = np.diag(self.inv_mass)
        w = np.zeros(n)
        w[:d] = -self.problem.b
        return W, w, float(self.problem.c)

    def energy(self, theta, p) -> np.ndarray:
        """Energy ``1/2 p^T M^-1 p + L(theta) + weight_decay/2 |theta|^2``; arrays (..., d)."""
        theta = as_array(theta, "theta")
        p = as_array(p, "p")
        return (
            0.5 * np.sum(p * p * self.inv_mass, axis=-1)
            + self.problem.loss(theta)
            + 0.5 * self.weight_decay * np.sum(theta * theta, axis=-1)
        )

    @property
    def spectral_radius(self) -> float:
        return float(np.max(np.abs(np.linalg.eigvals(self.F))))

    def stationary(self) -> tuple[np.ndarray, np.ndarray]:
        """Stationary mean and covariance of x (``P = F P F^T + G G^T``).

        Raises
        ------
        StabilityRegionError
            If dt is beyond the stability limit (spectral radius of F >= 1 with gamma > 0).
        UnstableDriftError
            If gamma = 0 (the map is volume preserving: with noise the energy grows without bound)
            or ``H + weight_decay I`` is singular: smallest eigenvalue <= n eps largest (flat
            directions random-walk).
        """
        rho = self.spectral_radius
        if rho >= 1.0 - config.MAP_STABILITY_MARGIN:
            if self.gamma == 0.0:
                raise UnstableDriftError(
                    "gamma = 0: undamped leapfrog has no stationary law (|eigenvalues of F| = 1)"
                )
            lam = np.linalg.eigvals(self.F)
            if lam[np.argmax(np.abs(lam))].real > 0.0:
                # an eigenvalue near +1 is a (nearly) flat direction; past the dt limit it is -1
                curv = np.linalg.eigvalsh(self._K)
                check_definite_spectrum(
                    curv[0],
                    curv[-1],
                    self.d,
                    "H + weight_decay I",
                    UnstableDriftError,
                    ": its flat directions random-walk, no stationary law",
                )
                raise UnstableDriftError(
                    f"H + weight_decay I is nearly flat (smallest eigenvalue {curv[0]:.3g}, "
                    f"largest {curv[-1]:.3g}): leapfrog's spectral radius {rho:.15g} is too "
                    "close to 1 for the flat direction's stationary spread to be resolved"
                )
            raise StabilityRegionError(
                f"dt = {self.dt} is beyond leapfrog's stability limit (spectral radius {rho:.6g})"
            )
        n = self.n_state
        m = np.linalg.solve(np.eye(n) - self.F, self.c)
        P = solve_discrete_lyapunov(self.F, self.G @ self.G.T)
        return m, 0.5 * (P + P.T)

    def state_law(self, k: int, mean0, cov0=None) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of x_k from x_0 ~ N(mean0, cov0) (cov0 = 0: a fixed start)."""
        m = as_array(mean0, "mean0", shape=(self.n_state,))
        P = (
            np.zeros((self.n_state,) * 2)
            if cov0 is None
            else as_array(cov0, "cov0", shape=(self.n_state,) * 2)
        )
        GG = self.G @ self.G.T
        for _ in range(int(k)):
            m = self.F @ m + self.c
            P = self.F @ P @ self.F.T + GG
        return m, P

    def initial_state(self, theta0, theta_cov=None) -> tuple[np.ndarray, np.ndarray]:
        """Law of x_0 for theta_0 ~ N(theta0, theta_cov), p_0 = 0 (and, "fsal", the first noise)."""
        d = self.d
        m = np.zeros(self.n_state)
        m[:d] = as_array(theta0, "theta0", shape=(d,))
        P = np.zeros((self.n_state,) * 2)
        if theta_cov is not None:
            P[:d, :d] = as_array(theta_cov, "theta_cov", shape=(d, d))
        if self.noise == "fsal":
            Lf = self.G[2 * d :]
            P[2 * d :, 2 * d :] = Lf @ Lf.T
        return m, P

    def delta_h_law(self, mean, cov) -> GeneralizedChi2:
        r"""Law of :math:`\Delta\mathcal H = \mathcal H(x_{t+1}) - \mathcal H(x_t)`.

        For :math:`x_t \sim N(\text{mean}, \text{cov})`.
        """
        W, w, _ = self.energy_form()
        n, q = self.n_state, self.G.shape[1]
        FG = np.hstack([self.F, self.G])
        A = FG.T @ W @ FG
        A[:n, :n] -= W
        a = FG.T @ (W @ self.c + w)
        a[:n] -= w
        a0 = 0.5 * self.c @ W @ self.c + w @ self.c
        my = np.concatenate([mean, np.zeros(q)])
        Py = np.zeros((n + q, n + q))
        Py[:n, :n] = cov
        Py[n:, n:] = np.eye(q)
        return GeneralizedChi2.from_quadratic_form(A, a, a0, my, Py)

    def stationary_drift(self, q: float = 0.5) -> float:
        """Exact stationary median (q-quantile) of the per-step ``|Delta H|``."""
        return self.delta_h_law(*self.stationary()).abs_quantile(q)

    def window_laws(self, k0: int, k1: int, mean0, cov0=None) -> list[GeneralizedChi2]:
        """Laws of Delta H_k for k = k0..k1-1 from x_0 ~ N(mean0, cov0)."""
        k0, k1 = int(k0), int(k1)
        if not 0 <= k0 < k1:
            raise ShapeError(f"the window must satisfy 0 <= k0 < k1; got ({k0}, {k1})")
        m, P = self.state_law(k0, mean0, cov0)
        GG = self.G @ self.G.T
        laws = []
        for _ in range(k0, k1):
            laws.append(self.delta_h_law(m, P))
            m, P = self.F @ m + self.c, self.F @ P @ self.F.T + GG
        return laws

    def window_drift(self, k0: int, k1: int, mean0, cov0=None, q: float = 0.5) -> float:
        """Median of ``|Delta H_k|`` over steps k0..k1-1 of a run from x_0 ~ N(mean0, cov0).

        The median of the equal-weight mixture of the per-step laws: the many-run limit of the
        tail median of seed 000 eq. 1 over the window.
        """
        return mixture_abs_quantile(self.window_laws(k0, k1, mean0, cov0), q)

    def cap_probability(self, threshold: float, mean, cov) -> float:
        """P(energy after one step > threshold) for x_t ~ N(mean, cov): how often eq. 7 engages."""
        W, w, w0 = self.energy_form()
        m1, P1 = self.F @ mean + self.c, self.F @ cov @ self.F.T + self.G @ self.G.T
        law = GeneralizedChi2.from_quadratic_form(W, w, w0, m1, P1)
        return 1.0 - law.cdf(threshold)


# ----------------------------------------------------------------------------------------------
# Drift-vs-dt curves
# ----------------------------------------------------------------------------------------------


def loglog_slope(dt, drift) -> np.ndarray:
    """Local slope d log(drift) / d log(dt) on a grid (second-order finite differences)."""
    dt = as_array(dt, "dt", ndim=1)
    drift = as_array(drift, "drift", shape=dt.shape)
    if np.any(dt <= 0) or np.any(drift <= 0):
        raise ShapeError("dt and drift must be positive for a log-log slope")
    return np.gradient(np.log(drift), np.log(dt))


def heuristic_fit(dt, drift, *, sigma2: float, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Seed 000's heuristic (eq. 6), :math:`a\,dt^3 + b\sigma^2 dt^2 + c\gamma\,dt`, fitted.

    Non-negative least squares on the relative error (each point weighted by 1/drift).
    Returns the coefficients (a, b, c) and the fitted curve. With a, b, c >= 0 its log-log slope
    lies in [1, 3]: it cannot describe a negative slope (as the seed notes).
    """
    dt = as_array(dt, "dt", ndim=1)
    drift = as_array(drift, "drift", shape=dt.shape)
    basis = np.stack([dt**3, sigma2 * dt**2, gamma * dt], axis=1)
    coef = optimize.nnls(basis / drift[:, None], np.ones_like(dt))[0]
    return coef, basis @ coef
