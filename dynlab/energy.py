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

from dataclasses import dataclass

import numba
import numpy as np
from scipy import LowLevelCallable, integrate, optimize
from scipy.linalg import solve_discrete_lyapunov

from . import config
from ._validate import as_array, as_positive_int, as_psd, as_rng, as_scalar, as_symmetric
from .errors import HyperparameterError, ShapeError, StabilityRegionError, UnstableDriftError
from .models import LinearRegressionProblem, QuadraticProblem

__all__ = ["GeneralizedChi2", "LeapfrogQuadratic", "NOISE_MODES", "loglog_slope", "heuristic_fit"]

NOISE_MODES = ("step", "kick", "fsal")


# ----------------------------------------------------------------------------------------------
# Generalized chi-square
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneralizedChi2:
    r"""The law of :math:`X = \sum_i \lambda_i w_i^2 + \beta_i w_i + c`, :math:`w \sim N(0, I)`.

    Characteristic function
    :math:`\varphi(s) = e^{isc}\prod_i (1 - 2i\lambda_i s)^{-1/2}\exp(-\beta_i^2 s^2 / (2(1 - 2i\lambda_i s)))`;
    CDF by Gil-Pelaez inversion. Degenerate laws (no randomness) are point masses at c.
    """

    lam: np.ndarray
    beta: np.ndarray
    c: float

    def __post_init__(self):
        lam = as_array(self.lam, "lam", ndim=1)
        object.__setattr__(self, "lam", lam)
        object.__setattr__(self, "beta", as_array(self.beta, "beta", shape=(lam.size,)))
        object.__setattr__(self, "c", as_scalar(self.c, "c", error=ShapeError))

    @classmethod
    def from_quadratic_form(cls, A, a, a0: float, mean, cov) -> "GeneralizedChi2":
        r"""Law of :math:`\frac12 y^\top A y + a^\top y + a_0` for :math:`y \sim N(\text{mean}, \text{cov})`.

        ``cov`` may be singular. With :math:`y = m + L u`, :math:`LL^\top = \text{cov}`, and
        :math:`\frac12 L^\top A L = V\Lambda V^\top`: :math:`\lambda = \Lambda`,
        :math:`\beta = V^\top L^\top (A m + a)`, :math:`c = \frac12 m^\top A m + a^\top m + a_0`.
        """
        A = as_symmetric(A, "A")
        n = A.shape[0]
        m = as_array(mean, "mean", shape=(n,))
        a = as_array(a, "a", shape=(n,))
        a0 = as_scalar(a0, "a0", error=ShapeError)
        w, U = np.linalg.eigh(as_psd(cov, "cov", n))
        keep = w > config.PSD_RTOL * max(w.max(initial=0.0), np.finfo(float).tiny)
        L = U[:, keep] * np.sqrt(w[keep])
        lam, V = np.linalg.eigh(0.5 * (L.T @ A @ L))
        beta = V.T @ (L.T @ (A @ m + a))
        return cls.trimmed(lam, beta, 0.5 * m @ A @ m + a @ m + a0)

    @classmethod
    def trimmed(cls, lam, beta, c: float) -> "GeneralizedChi2":
        """Drop terms whose lambda and beta are both negligible (rounding-level) against the scale."""
        lam, beta = np.asarray(lam, dtype=float), np.asarray(beta, dtype=float)
        scale = max(
            np.max(np.abs(lam), initial=0.0),
            np.max(np.abs(beta), initial=0.0) ** 2,
            np.finfo(float).tiny,
        )
        keep = (np.abs(lam) > 1e-13 * scale) | (beta**2 > 1e-13 * scale)
        return cls(lam[keep], beta[keep], float(c))

    @property
    def mean(self) -> float:
        return float(np.sum(self.lam) + self.c)

    @property
    def var(self) -> float:
        return float(np.sum(2.0 * self.lam**2 + self.beta**2))

    @property
    def degenerate(self) -> bool:
        """True when X is a constant (no random term)."""
        return self.lam.size == 0

    def charfn(self, s) -> np.ndarray:
        """Characteristic function E exp(i s X) at real s (array)."""
        return np.exp(1j * self._split_cache[2] * np.asarray(s, dtype=float)) * self._envelope(s)

    def _split(self):
        r"""Terms as noncentral chi-squares :math:`\lambda(w + \delta)^2` where the shift
        :math:`\lambda\delta^2 = \beta^2/(4\lambda)` is moderate, the rest kept as
        :math:`\lambda w^2 + \beta w`; returns (mask_nc, delta^2, centre) with the centre
        :math:`c - \sum_{nc}\lambda\delta^2`. In this form the characteristic function's phase
        tends to a constant as s grows, so the Fourier integrals below converge fast.
        """
        sd = np.sqrt(self.var) if self.var > 0 else 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = self.beta**2 / (4.0 * self.lam)
        # Beyond ~10 sd the shifted form's phase would wind shift / sd times before the envelope
        # decays; there the plain form's envelope has already decayed (by exp(-beta^2/(8 lam^2))).
        nc = (self.lam != 0.0) & (np.abs(shift) <= 10.0 * sd)
        d2 = np.where(nc, shift / np.where(nc, self.lam, 1.0), 0.0)
        return nc, d2, self.c - float(np.sum(np.where(nc, shift, 0.0)))

    def _envelope(self, s) -> np.ndarray:
        """The characteristic function divided by e^{is centre} (see :meth:`_split`)."""
        nc, d2, _ = self._split_cache
        s = np.asarray(s, dtype=float)
        out = np.empty(s.shape, dtype=complex)
        for i, si in enumerate(s.flat):
            out.flat[i] = _envelope_kernel(float(si), self.lam, nc, d2, self.beta**2)
        return out

    @property
    def _split_cache(self):
        cached = self.__dict__.get("_split_value")
        if cached is None:
            cached = self._split()
            object.__setattr__(self, "_split_value", cached)
        return cached

    def _trig_integral(self, omega: float, part: str, kind: str) -> float:
        r""":math:`\int_0^\infty \mathrm{part}(R(s))\,\mathrm{kind}(\omega s)\,ds / s`, R the envelope.

        Computed in the scaled variable v = s sd(X): Gauss-Kronrod on [0, 20] (never
        evaluated at 0, where the integrand has a finite limit) and QUADPACK's Fourier
        integral (QAWF) on [20, inf) (the split moves closer to 0 for fast oscillations).
        """
        sc = float(np.sqrt(self.var))
        nc, d2, _ = self._split_cache
        w = omega / sc
        sign = np.sign(w) if kind == "sin" else 1.0  # sine odd, cosine even in omega
        # Both integrals are continuous in omega (the envelope decays); below 1e-12 of the
        # scale, omega is taken as 0 (the sine integral vanishes there).
        w = abs(w) if abs(w) >= 1e-12 else 0.0
        if kind == "sin" and w == 0.0:
            return 0.0
        terms = (
            (float(self.lam.size),)
            + tuple(self.lam)
            + tuple(nc.astype(float))
            + tuple(d2)
            + tuple(self.beta**2)
        )
        re = 1.0 if part == "re" else 0.0
        trig = 1.0 if kind == "sin" else 2.0
        tol = config.GCHI2_RTOL
        f = _INTEGRAND
        A = 20.0 if w == 0.0 else min(20.0, 200.0 / w)  # at most ~30 cycles in the head
        head = integrate.quad(
            f, 0.0, A, args=(sc, re, trig, w, 1.0) + terms, limit=4000, epsabs=tol, epsrel=tol
        )[0]
        if w == 0.0:
            tail = integrate.quad(
                f,
                A,
                np.inf,
                args=(sc, re, 0.0, 0.0, 1.0) + terms,
                limit=4000,
                epsabs=tol,
                epsrel=tol,
            )[0]
        elif A * w >= 2.0 * np.pi:
            tail = integrate.quad(
                f,
                A,
                np.inf,
                args=(sc, re, 0.0, 0.0, 1.0) + terms,
                weight=kind,
                wvar=w,
                limlst=200,
                limit=4000,
                epsabs=tol,
            )[0]
        else:
            # slow oscillation: in u = w v the cycles have unit length, and QAWF resolves the
            # decay of the envelope inside the first ones (integrand env(u / w) / w)
            tail = integrate.quad(
                f,
                A * w,
                np.inf,
                args=(sc, re, 0.0, 0.0, 1.0 / w) + terms,
                weight=kind,
                wvar=1.0,
                limlst=200,
                limit=4000,
                epsabs=tol,
            )[0]
        return sign * (head + tail)

    def cdf(self, x: float) -> float:
        r"""P(X <= x) by Gil-Pelaez: :math:`\frac12 - \frac1\pi\int_0^\infty \mathrm{Im}[e^{-isx}\varphi(s)]/s\,ds`."""
        x = float(x)
        if self.degenerate:
            return float(x >= self.c)
        a = self._split_cache[2] - x  # Im[e^{ias} R] = sin(as) Re R + cos(as) Im R
        val = self._trig_integral(a, "re", "sin") + self._trig_integral(a, "im", "cos")
        return float(np.clip(0.5 - val / np.pi, 0.0, 1.0))

    def abs_cdf(self, m: float) -> float:
        r"""P(|X| <= m) = :math:`\frac2\pi\int_0^\infty \sin(sm)\,\mathrm{Re}\,\varphi(s)/s\,ds`."""
        m = float(m)
        if m <= 0.0:
            return 0.0
        if self.degenerate:
            return float(abs(self.c) <= m)
        # 2 sin(ms) Re[e^{ics} R] = Re R [sin((m+c)s) + sin((m-c)s)] + Im R [cos((m+c)s) - cos((m-c)s)],
        # c the centre of _split
        c = self._split_cache[2]
        val = (
            self._trig_integral(m + c, "re", "sin")
            + self._trig_integral(m - c, "re", "sin")
            + self._trig_integral(m + c, "im", "cos")
            - self._trig_integral(m - c, "im", "cos")
        )
        return float(np.clip(val / np.pi, 0.0, 1.0))

    def abs_quantile(self, q: float = 0.5) -> float:
        """The q-quantile of |X| (q = 1/2: the median), to relative accuracy ~GCHI2_RTOL."""
        return _mixture_abs_quantile([self], q)

    def sample(self, n: int, seed=None) -> np.ndarray:
        """n independent draws (for Monte Carlo checks)."""
        w = as_rng(seed).standard_normal((as_positive_int(n, "n", ShapeError), self.lam.size))
        return w * w @ self.lam + w @ self.beta + self.c


@numba.cfunc(
    numba.types.float64(numba.types.intc, numba.types.CPointer(numba.types.float64)), cache=True
)
def _integrand_c(n, xx):
    """QUADPACK integrand ``alpha part(R(alpha x / sc)) / (alpha x) [trig(w x)]``, R the envelope.

    xx = [x, sc, re (1: real part, 0: imaginary), trig (0: none, 1: sin, 2: cos), w, alpha,
    n_terms, lam[n_terms], nc[n_terms], d2[n_terms], b2[n_terms]].
    """
    v = xx[0] * xx[5]
    s = v / xx[1]
    m = int(xx[6])
    acc = 0.0 + 0.0j
    for i in range(m):
        lam = xx[7 + i]
        z = 1.0 - 2.0j * lam * s
        acc += -0.5 * np.log(z)
        if xx[7 + m + i] != 0.0:
            acc += 1.0j * lam * xx[7 + 2 * m + i] * s / z
        else:
            acc += -0.5 * xx[7 + 3 * m + i] * s * s / z
    r = np.exp(acc)
    val = (r.real if xx[2] != 0.0 else r.imag) / v * xx[5]
    if xx[3] == 1.0:
        val *= np.sin(xx[4] * xx[0])
    elif xx[3] == 2.0:
        val *= np.cos(xx[4] * xx[0])
    return val


_INTEGRAND = LowLevelCallable(_integrand_c.ctypes)


@numba.njit(cache=True)
def _envelope_kernel(s, lam, nc, d2, b2):
    """prod_i (1 - 2i lam s)^{-1/2} exp(i lam d2 s / z) (shifted terms) or exp(-b2 s^2 / (2 z))."""
    acc = 0.0 + 0.0j
    for i in range(lam.size):
        z = 1.0 - 2.0j * lam[i] * s
        acc += -0.5 * np.log(z)
        if nc[i]:
            acc += 1.0j * lam[i] * d2[i] * s / z
        else:
            acc += -0.5 * b2[i] * s * s / z
    return np.exp(acc)


def _mixture_abs_quantile(laws: list[GeneralizedChi2], q: float) -> float:
    """q-quantile of |X| under the equal-weight mixture of ``laws``."""
    q = as_scalar(q, "q", low=0.0, high=1.0, low_open=True, high_open=True, error=ShapeError)
    if all(law.degenerate for law in laws):
        return float(np.quantile([abs(law.c) for law in laws], q, method="inverted_cdf"))
    f = lambda m: np.mean([law.abs_cdf(m) for law in laws]) - q  # noqa: E731 - increasing in m
    # Chebyshev: P(|X| > m) <= E X^2 / m^2, so the quantile lies below sqrt(E X^2 / (1 - q)).
    hi = max(np.sqrt(max(law.var + law.mean**2 for law in laws) / (1.0 - q)), np.finfo(float).tiny)
    lo = hi * 1e-3
    while f(lo) > 0.0:  # |X| concentrated near 0: move the bracket down (rarely needed)
        if lo < hi * 1e-12:
            raise ShapeError("|X| has an atom at 0 or is concentrated below 1e-12 of its scale")
        lo *= 1e-3
    return float(
        optimize.brentq(f, lo, hi, xtol=config.GCHI2_RTOL * hi * 1e-2, rtol=config.GCHI2_RTOL)
    )


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
                f"problem must be a QuadraticProblem or LinearRegressionProblem; got {type(problem).__name__}"
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
        """Energy ``1/2 p^T M^-1 p + L(theta) + weight_decay/2 |theta|^2``, arrays of shape (..., d)."""
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
            or H is singular (flat directions random-walk).
        """
        rho = self.spectral_radius
        if rho >= 1.0 - 1e-12:
            if self.gamma == 0.0:
                raise UnstableDriftError(
                    "gamma = 0: undamped leapfrog has no stationary law (|eigenvalues of F| = 1)"
                )
            curv = np.linalg.eigvalsh(self._K)
            if curv[0] <= config.PSD_RTOL * curv[-1]:
                raise UnstableDriftError(
                    "H is singular: its flat directions random-walk, no stationary law"
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
        r"""Law of :math:`\Delta\mathcal H = \mathcal H(x_{t+1}) - \mathcal H(x_t)` for :math:`x_t \sim N(\text{mean}, \text{cov})`."""
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
        """Exact stationary median (q-quantile) of the per-step |Delta H|."""
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
        """Median of |Delta H_k| over steps k0..k1-1 of a run from x_0 ~ N(mean0, cov0).

        The median of the equal-weight mixture of the per-step laws: the many-run limit of the
        tail median of seed 000 eq. 1 over the window.
        """
        return _mixture_abs_quantile(self.window_laws(k0, k1, mean0, cov0), q)

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
    r"""Seed 000's heuristic (eq. 6), :math:`a\,dt^3 + b\sigma^2 dt^2 + c\gamma\,dt`, fitted to a curve.

    Non-negative least squares on the relative error (each point weighted by 1/drift).
    Returns the coefficients (a, b, c) and the fitted curve. With a, b, c >= 0 its log-log slope
    lies in [1, 3]: it cannot describe a negative slope (as the seed notes).
    """
    dt = as_array(dt, "dt", ndim=1)
    drift = as_array(drift, "drift", shape=dt.shape)
    basis = np.stack([dt**3, sigma2 * dt**2, gamma * dt], axis=1)
    coef = optimize.nnls(basis / drift[:, None], np.ones_like(dt))[0]
    return coef, basis @ coef
