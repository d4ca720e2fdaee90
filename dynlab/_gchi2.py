r"""The generalized chi-square law and its Gil-Pelaez inversion (seed 000's exact drift).

:math:`X = \sum_i \lambda_i w_i^2 + \beta_i w_i + c`, :math:`w \sim N(0, I)`: the law of any
quadratic form of a Gaussian vector (Imhof, 1961, Biometrika 48, eq. 3.2 for the inversion).
:mod:`dynlab.energy` uses it for the per-step energy change of leapfrog on a quadratic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from scipy import LowLevelCallable, integrate, optimize

from . import config
from ._validate import as_array, as_positive_int, as_psd, as_rng, as_scalar, as_symmetric
from .errors import ShapeError

__all__ = ["GeneralizedChi2", "mixture_abs_quantile"]


@dataclass(frozen=True)
class GeneralizedChi2:
    r"""The law of :math:`X = \sum_i \lambda_i w_i^2 + \beta_i w_i + c`, :math:`w \sim N(0, I)`.

    Characteristic function :math:`\varphi(s) = e^{isc}\prod_i (1 - 2i\lambda_i s)^{-1/2}
    \exp(-\beta_i^2 s^2 / (2(1 - 2i\lambda_i s)))`; CDF by Gil-Pelaez inversion.
    Degenerate laws (no randomness) are point masses at c.
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
        r"""Law of :math:`\frac12 y^\top A y + a^\top y + a_0`, :math:`y \sim N(\mu, C)`.

        ``mean`` = :math:`\mu`, ``cov`` = :math:`C` may be singular. With :math:`y = \mu + L u`,
        :math:`LL^\top = C`, and :math:`\frac12 L^\top A L = V\Lambda V^\top`:
        :math:`\lambda = \Lambda`, :math:`\beta = V^\top L^\top (A \mu + a)`,
        :math:`c = \frac12 \mu^\top A \mu + a^\top \mu + a_0`.
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
        """Drop terms whose lambda and beta are both rounding-level against the scale."""
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
        r""":math:`\int_0^\infty \mathrm{part}(R(s))\,\mathrm{kind}(\omega s)\,ds / s`, R: envelope.

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
        r"""P(X <= x) by Gil-Pelaez.

        :math:`\frac12 - \frac1\pi\int_0^\infty \mathrm{Im}[e^{-isx}\varphi(s)]/s\,ds`.
        """
        x = float(x)
        if self.degenerate:
            return float(x >= self.c)
        a = self._split_cache[2] - x  # Im[e^{ias} R] = sin(as) Re R + cos(as) Im R
        val = self._trig_integral(a, "re", "sin") + self._trig_integral(a, "im", "cos")
        return float(np.clip(0.5 - val / np.pi, 0.0, 1.0))

    def abs_cdf(self, m: float) -> float:
        r"""``P(|X| <= m)``.

        :math:`\frac2\pi\int_0^\infty \sin(sm)\,\mathrm{Re}\,\varphi(s)/s\,ds` (Gil-Pelaez).
        """
        m = float(m)
        if m <= 0.0:
            return 0.0
        if self.degenerate:
            return float(abs(self.c) <= m)
        # 2 sin(ms) Re[e^{ics} R] = Re R [sin((m+c)s) + sin((m-c)s)]
        #                          + Im R [cos((m+c)s) - cos((m-c)s)], c the centre of _split
        c = self._split_cache[2]
        val = (
            self._trig_integral(m + c, "re", "sin")
            + self._trig_integral(m - c, "re", "sin")
            + self._trig_integral(m + c, "im", "cos")
            - self._trig_integral(m - c, "im", "cos")
        )
        return float(np.clip(val / np.pi, 0.0, 1.0))

    def abs_quantile(self, q: float = 0.5) -> float:
        """The q-quantile of ``|X|`` (q = 1/2: the median), to relative accuracy ~GCHI2_RTOL."""
        return mixture_abs_quantile([self], q)

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


def mixture_abs_quantile(laws: list[GeneralizedChi2], q: float) -> float:
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
