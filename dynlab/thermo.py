r"""Ideal-gas thermodynamics of SGD with weight decay on scale-invariant functions (seed 002).

Seed 002 (Sadrtdinov et al., arXiv 2511.07308, §3 "Thermodynamic framework", §5 "Isotropic
noise model experiments") describes the stationary law of SGD with weight decay on a
scale-invariant loss :math:`L(w) = L(w / \|w\|)` by a radius :math:`r = \|w\|` and a direction
:math:`\bar w = w / r`. Only the paper's abstract and section titles could be retrieved here
(not its equation numbers), so every formula below was derived in this module's notes
(``docs/thermo.md``) from the setup: the isotropic noise model and three protocols.

**Isotropic noise model.** The minibatch gradient at w is
:math:`\hat g(w) = \nabla L(w) + \frac{\sigma}{r} P_w \xi`, :math:`\xi \sim N(0, I_d)`,
:math:`P_w = I - \bar w\bar w^\top`: tangent to the sphere (like every gradient of a
scale-invariant function) and scaling as 1/r (like :math:`\nabla L(w) = \nabla L(\bar w)/r`).

**Protocols** (``lr`` below is :math:`\eta`, ``effective_lr`` :math:`\tilde\eta = \eta / r^2`):

* ``"sphere"``: :math:`w' = w - \tilde\eta r^2 \hat g(w)`, then :math:`w \leftarrow r\,w'/\|w'\|`
  (fixed radius r);
* ``"elr"``: :math:`w' = w - \tilde\eta \|w\|^2 (\hat g(w) + \lambda w)` (fixed effective lr);
* ``"lr"``: :math:`w' = w - \eta (\hat g(w) + \lambda w)` (plain SGD with weight decay).

**Stationary state** (SDE limit, time :math:`\tilde\eta k`): the direction follows Langevin
dynamics on the unit sphere at temperature :math:`T = \tilde\eta \sigma^2 / 2`, with the Gibbs law
:math:`\rho(\bar w) \propto e^{-L(\bar w)/T}`; the radius obeys
:math:`d r^2/dk = -2\eta\lambda r^2 + \eta^2\sigma^2 (d-1)/r^2` (+ O(lr^2)), so

* ``"sphere"``: :math:`T = \tilde\eta\sigma^2/2`, r given, pressure :math:`p = (d-1)T/r^2`
  (the outward push per unit time that the constraint absorbs);
* ``"elr"``: :math:`T = \tilde\eta\sigma^2/2`, :math:`p = \lambda`, :math:`r_*^2 = (d-1)T/\lambda`;
* ``"lr"``: :math:`r_*^4 = (d-1)\eta\sigma^2/(2\lambda)`, :math:`T = \eta\sigma^2/(2 r_*^2)
  = \sqrt{\eta\lambda\sigma^2/(2(d-1))}`, :math:`p = \lambda`.

With volume :math:`V = r^2/2` all three obey the ideal-gas equation of state
:math:`pV = NT`, :math:`N = (d-1)/2`. The entropy of the weights is
:math:`S = S_{\bar w}(T) + (d-1)\log r = S_{\bar w}(T) + N \log(2V)`, the free energies are
:math:`F = U - TS` and :math:`G = F + pV` with :math:`U = E[L]`, and the Maxwell relations
:math:`(\partial S/\partial V)_T = (\partial p/\partial T)_V`,
:math:`(\partial S/\partial p)_T = -(\partial V/\partial T)_p` hold.

For the toy loss :math:`L(w) = h\langle\hat\mu, \bar w\rangle` the Gibbs law is a von Mises-Fisher
law (:class:`VonMisesFisherGibbs`): U, S and the law of :math:`t = \langle\hat\mu,\bar w\rangle`
are exact (Bessel functions); the "ideal gas" forms :math:`U \approx -h + NT`,
:math:`S_{\bar w} \approx N\log(2\pi e T/h)` are their low-temperature limits.
:func:`simulate` runs ensembles of the real discrete protocols (numba) to check all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from scipy.optimize import brentq
from scipy.special import digamma, gammaln, ive

from ._validate import as_array, as_positive_int, as_rng, as_scalar
from .errors import HyperparameterError, ShapeError
from .progress import progress

__all__ = [
    "PROTOCOLS",
    "ScaleInvariantSGD",
    "VonMisesFisherGibbs",
    "ThermoRun",
    "simulate",
    "axial_sphere_entropy",
    "sphere_log_area",
]

PROTOCOLS = ("sphere", "elr", "lr")


def sphere_log_area(n: int) -> float:
    """log of the area of the unit n-sphere in R^{n+1}: ``log(2 pi^{(n+1)/2} / Gamma((n+1)/2))``."""
    return float(np.log(2.0) + 0.5 * (n + 1) * np.log(np.pi) - gammaln(0.5 * (n + 1)))


# ----------------------------------------------------------------------------------------------
# The process and its thermodynamic variables
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScaleInvariantSGD:
    r"""SGD with weight decay on a scale-invariant loss in R^d, isotropic noise model (seed 002).

    Parameters
    ----------
    d : int
        Dimension of w (>= 2); the direction lives on the (d-1)-sphere.
    protocol : {"sphere", "elr", "lr"}
        Fixed radius, fixed effective learning rate, or fixed learning rate.
    lr : float
        :math:`\tilde\eta` (effective lr) for "sphere" and "elr", :math:`\eta` for "lr".
    sigma2 : float
        Noise scale :math:`\sigma^2` of the isotropic model (per tangent direction at r = 1).
    weight_decay : float
        :math:`\lambda` ("elr", "lr"; must be > 0 there); must be 0 for "sphere".
    radius : float, optional
        The fixed radius ("sphere" only).
    """

    d: int
    protocol: str
    lr: float
    sigma2: float
    weight_decay: float = 0.0
    radius: float | None = None

    def __post_init__(self):
        as_positive_int(self.d, "d", ShapeError)
        if self.d < 2:
            raise ShapeError(f"d must be >= 2 (a sphere of dimension >= 1); got {self.d}")
        if self.protocol not in PROTOCOLS:
            raise HyperparameterError(f"protocol must be one of {PROTOCOLS}; got {self.protocol!r}")
        as_scalar(self.lr, "lr", low=0.0, low_open=True)
        as_scalar(self.sigma2, "sigma2", low=0.0, low_open=True)
        wd = as_scalar(self.weight_decay, "weight_decay", low=0.0)
        if self.protocol == "sphere":
            if self.radius is None or wd != 0.0:
                raise HyperparameterError("the sphere protocol needs a radius and weight_decay = 0")
            as_scalar(self.radius, "radius", low=0.0, low_open=True)
        else:
            if self.radius is not None or wd == 0.0:
                raise HyperparameterError(
                    f"the {self.protocol} protocol needs weight_decay > 0 and no radius (it is r*)"
                )

    @property
    def n_dof(self) -> float:
        """N = (d - 1) / 2, the 'number of particles' of the ideal gas (pV = NT)."""
        return 0.5 * (self.d - 1)

    @property
    def r(self) -> float:
        """Stationary radius: the fixed one ("sphere") or r* ("elr", "lr"), SDE limit."""
        if self.protocol == "sphere":
            return float(self.radius)
        if self.protocol == "elr":
            return float(np.sqrt((self.d - 1) * self.temperature / self.weight_decay))
        return float(((self.d - 1) * self.lr * self.sigma2 / (2.0 * self.weight_decay)) ** 0.25)

    @property
    def effective_lr(self) -> float:
        r"""Step size on the unit sphere, :math:`\tilde\eta = \eta / r^2` (at r* for "lr")."""
        return self.lr / self.r**2 if self.protocol == "lr" else self.lr

    @property
    def temperature(self) -> float:
        r""":math:`T = \tilde\eta\sigma^2/2`; for "lr" :math:`\sqrt{\eta\lambda\sigma^2/(2(d-1))}`."""
        if self.protocol == "lr":
            return float(np.sqrt(self.lr * self.weight_decay * self.sigma2 / (2.0 * (self.d - 1))))
        return 0.5 * self.lr * self.sigma2

    @property
    def volume(self) -> float:
        """V = r^2 / 2."""
        return 0.5 * self.r**2

    @property
    def pressure(self) -> float:
        r"""p = weight_decay ("elr", "lr"), :math:`(d-1)T/r^2` ("sphere"): so that pV = NT."""
        if self.protocol == "sphere":
            return self.n_dof * self.temperature / self.volume
        return float(self.weight_decay)

    def state(self, gibbs: "VonMisesFisherGibbs") -> dict:
        r"""Thermodynamic state in the SDE limit: T, p, V, N, U, S, F, G.

        ``U = E[L]`` and ``S = S_dir(T) + (d-1) log r`` from the Gibbs law of the direction
        (``gibbs``, same d), ``F = U - T S`` (Helmholtz, natural for "sphere"),
        ``G = F + p V`` (Gibbs, natural for "elr" and "lr").
        """
        if gibbs.d != self.d:
            raise ShapeError(f"the Gibbs law is on S^{gibbs.d - 1}, the process in R^{self.d}")
        T, p, V = self.temperature, self.pressure, self.volume
        U = gibbs.energy(T)
        S = gibbs.entropy(T) + (self.d - 1) * np.log(self.r)
        return dict(T=T, p=p, V=V, N=self.n_dof, U=U, S=S, F=U - T * S, G=U - T * S + p * V)

    def discrete_radius(self, grad_sq: float) -> float:
        r"""Root-mean-square stationary radius :math:`\sqrt{E r^2}` of the discrete process, to O(lr).

        With :math:`G = E|\nabla_S L|^2` (squared gradient on the unit sphere under the
        stationary direction law), :math:`D = \sigma^2(d-1) + G`, the one-step maps of
        :math:`x = r^2` have the deterministic fixed points

        * "elr": :math:`x' = x(1-\tilde\eta\lambda x)^2 + \tilde\eta^2 x(\sigma^2\chi^2_{d-1} + |\nabla_S L|^2)`,
          :math:`x_0 = [1 - \sqrt{1 - \tilde\eta^2 D}]/(\tilde\eta\lambda)`;
        * "lr": :math:`x' = (1-\eta\lambda)^2 x + \eta^2(\sigma^2\chi^2_{d-1} + |\nabla_S L|^2)/x`,
          :math:`x_0^2 = \eta D/(\lambda(2 - \eta\lambda))`;

        and the chi-square kicks make x fluctuate with relative variance :math:`2\tilde\eta T`
        ("elr") or :math:`\tilde\eta T` ("lr"), which through the curvature of the maps shifts
        the mean: :math:`E x = x_0 (1 - 2\tilde\eta T)` ("elr"), :math:`x_0 (1 + \tilde\eta T/2)`
        ("lr"), up to O(lr^2) (derivation in docs/thermo.md). Tends to :attr:`r` as lr -> 0;
        "sphere" returns its fixed radius.
        """
        G = as_scalar(grad_sq, "grad_sq", low=0.0, error=ShapeError)
        drive = self.sigma2 * (self.d - 1) + G
        if self.protocol == "sphere":
            return float(self.radius)
        if self.protocol == "elr":
            x = self.lr * self.lr * drive
            if x >= 1.0:
                raise HyperparameterError(
                    f"effective_lr^2 (sigma2 (d-1) + G) = {x:.3g} >= 1: no stationary radius"
                )
            x0 = x / (1.0 + np.sqrt(1.0 - x)) / (self.lr * self.weight_decay)
            return float(np.sqrt(x0 * (1.0 - 2.0 * self.lr * self.temperature)))
        lw = self.lr * self.weight_decay
        if lw >= 2.0:
            raise HyperparameterError(
                f"lr * weight_decay = {lw:.3g} >= 2: the radius map is unstable"
            )
        x0 = np.sqrt(self.lr * drive / (self.weight_decay * (2.0 - lw)))
        T0 = (
            self.lr * self.sigma2 / (2.0 * x0)
        )  # temperature at the fixed point; effective_lr = lr / x0
        return float(np.sqrt(x0 * (1.0 + 0.5 * T0 * self.lr / x0)))

    def discrete_pressure(self, grad_sq: float) -> float:
        r"""Pressure of the discrete "sphere" protocol: :math:`[(d-1)T + \tilde\eta G/2]/r^2` exactly.

        :math:`E[\|w'\|^2 - r^2] = \tilde\eta^2 r^2 (\sigma^2 (d-1) + G)` for the pre-projection
        point w'; divided by :math:`2\tilde\eta r^4` (the SDE's outward drift of r^2 per unit
        time, over r^2). Other protocols: weight_decay.
        """
        G = as_scalar(grad_sq, "grad_sq", low=0.0, error=ShapeError)
        if self.protocol != "sphere":
            return float(self.weight_decay)
        return (2.0 * self.n_dof * self.temperature + 0.5 * self.lr * G) / self.radius**2


# ----------------------------------------------------------------------------------------------
# The von Mises-Fisher Gibbs law of the linear toy loss
# ----------------------------------------------------------------------------------------------


def _log_iv(nu: float, x: float) -> float:
    """log I_nu(x) for x > 0, nu >= 0: scaled Bessel function, or its power series on underflow."""
    v = ive(nu, x)
    if np.isfinite(v) and v > 1e-280:
        return float(np.log(v) + x)
    if x > 1e3 * (nu + 1.0):
        # scipy's ive gives NaN for x >~ 1e9: Hankel's expansion, 4 terms, relative error
        # below ((4 nu^2) / (8 x))^4 < 1e-12 here.
        m, u = 4.0 * nu * nu, 1.0 / (8.0 * x)
        series = (
            1.0
            - (m - 1) * u
            + (m - 1) * (m - 9) * u * u / 2
            - (m - 1) * (m - 9) * (m - 25) * u**3 / 6
        )
        return float(x - 0.5 * np.log(2.0 * np.pi * x) + np.log(series))
    # Underflow only happens for x << nu, where the series sum_k (x^2/4)^k / (k! (nu+1)_k)
    # converges geometrically (ratio < x^2 / (4 nu) < 1 after the first terms).
    q = 0.25 * x * x
    term, total, k = 1.0, 1.0, 0
    while term > 1e-17 * total:
        term *= q / ((k + 1) * (nu + k + 1))
        total += term
        k += 1
    return float(nu * np.log(0.5 * x) - gammaln(nu + 1.0) + np.log(total))


@dataclass(frozen=True)
class VonMisesFisherGibbs:
    r"""Gibbs law :math:`\rho(\bar w) \propto e^{-L(\bar w)/T}` of :math:`L = h\langle\hat\mu,\bar w\rangle`.

    On the unit sphere :math:`S^{d-1}` this is the von Mises-Fisher law with mean direction
    :math:`-\hat\mu` and concentration :math:`\kappa = h/T`; with
    :math:`A_d(\kappa) = I_{d/2}(\kappa)/I_{d/2-1}(\kappa)`:
    :math:`E t = -A_d`, :math:`E t^2 = 1 - (d-1)A_d/\kappa` for :math:`t = \langle\hat\mu,\bar w\rangle`,
    :math:`U = E L = -h A_d`, :math:`S = -\log C_d(\kappa) - \kappa A_d`,
    :math:`C_d = \kappa^{d/2-1}/((2\pi)^{d/2} I_{d/2-1}(\kappa))`.

    Parameters
    ----------
    d : int
        Ambient dimension (>= 2).
    field : float
        h > 0, the loss range is [-h, h].
    """

    d: int
    field: float = 1.0

    def __post_init__(self):
        if as_positive_int(self.d, "d", ShapeError) < 2:
            raise ShapeError(f"d must be >= 2; got {self.d}")
        as_scalar(self.field, "field", low=0.0, low_open=True, error=ShapeError)

    def kappa(self, T: float) -> float:
        """Concentration h / T."""
        return self.field / as_scalar(T, "T", low=0.0, low_open=True, error=ShapeError)

    def _A(self, kappa: float) -> float:
        nu = 0.5 * self.d
        return float(np.exp(_log_iv(nu, kappa) - _log_iv(nu - 1.0, kappa)))

    def mean_cosine(self, T: float) -> float:
        r""":math:`E\langle\hat\mu,\bar w\rangle = -A_d(h/T)`."""
        return -self._A(self.kappa(T))

    def second_moment(self, T: float) -> float:
        r""":math:`E\langle\hat\mu,\bar w\rangle^2 = 1 - (d-1) A_d(\kappa)/\kappa`."""
        k = self.kappa(T)
        return 1.0 - (self.d - 1) * self._A(k) / k

    def energy(self, T: float, *, exact: bool = True) -> float:
        r"""Internal energy :math:`U = E[L]`; ``exact=False``: the ideal-gas limit :math:`-h + (d-1)T/2`."""
        if not exact:
            return -self.field + 0.5 * (self.d - 1) * as_scalar(
                T, "T", low=0.0, low_open=True, error=ShapeError
            )
        return self.field * self.mean_cosine(T)

    def log_normalizer(self, T: float) -> float:
        r""":math:`\log C_d(\kappa)`, so that the density w.r.t. area is :math:`C_d e^{-L/T}`."""
        k = self.kappa(T)
        nu = 0.5 * self.d
        return float((nu - 1.0) * np.log(k) - nu * np.log(2.0 * np.pi) - _log_iv(nu - 1.0, k))

    def entropy(self, T: float, *, exact: bool = True) -> float:
        r"""Entropy of the direction on the unit sphere; ``exact=False``: :math:`N\log(2\pi e T/h)`."""
        k = self.kappa(T)
        if not exact:
            return 0.5 * (self.d - 1) * np.log(2.0 * np.pi * np.e / k)
        return -self.log_normalizer(T) - k * self._A(k)

    def free_energy(self, T: float) -> float:
        r""":math:`F_{\bar w} = U - TS = T\log C_d = -T\log Z` on the unit sphere."""
        return T * self.log_normalizer(T)

    def grad_sq(self, T: float) -> float:
        r""":math:`E|\nabla_{S} L|^2 = h^2(1 - E t^2)`, the squared gradient on the unit sphere."""
        return self.field**2 * (1.0 - self.second_moment(T))

    def cosine_logpdf(self, t, T: float) -> np.ndarray:
        r"""log density of :math:`t = \langle\hat\mu,\bar w\rangle` on (-1, 1):
        :math:`C_d |S^{d-2}| e^{-\kappa t}(1-t^2)^{(d-3)/2}`."""
        t = as_array(t, "t")
        k = self.kappa(T)
        with np.errstate(divide="ignore"):
            return (
                self.log_normalizer(T)
                + sphere_log_area(self.d - 2)
                - k * t
                + 0.5 * (self.d - 3) * np.log1p(-t * t)
            )

    def temperature_from_mean_cosine(self, m: float) -> float:
        """Invert :meth:`mean_cosine`: the temperature whose Gibbs law has E t = m (-1 < m < 0)."""
        m = as_scalar(m, "m", low=-1.0, high=0.0, low_open=True, high_open=True, error=ShapeError)
        f = lambda logk: self._A(np.exp(logk)) + m  # noqa: E731 - increasing in log kappa
        lo, hi = -25.0, 25.0
        return self.field / float(np.exp(brentq(f, lo, hi, xtol=1e-14, rtol=1e-14)))


# ----------------------------------------------------------------------------------------------
# Entropy estimation from samples of an axially symmetric law
# ----------------------------------------------------------------------------------------------


def axial_sphere_entropy(t, d: int, *, k: int = 4) -> float:
    r"""Entropy of a law on :math:`S^{d-1}` symmetric about an axis, from samples of its cosine t.

    Writing :math:`\bar w = (t, \sqrt{1-t^2}\,u)`, :math:`u \in S^{d-2}` uniform, the area element
    is :math:`(1-t^2)^{(d-3)/2} dt\, du`, so
    :math:`S = h(t) + \log|S^{d-2}| + \frac{d-3}2 E\log(1-t^2)`, with the differential entropy
    :math:`h(t)` of the cosine estimated by the Kozachenko-Leonenko k-nearest-neighbour
    estimator :math:`\psi(n) - \psi(k) + \log 2 + \overline{\log \epsilon_k}` (asymptotically
    unbiased). The laws of seed 002's isotropic noise model on an axially symmetric loss are
    axially symmetric for the discrete dynamics too (the noise is isotropic).
    """
    t = np.sort(as_array(t, "t", ndim=1))
    n = t.size
    k = as_positive_int(k, "k", ShapeError)
    if n <= 2 * k:
        raise ShapeError(f"need more than {2 * k} samples; got {n}")
    if np.any(np.abs(t) >= 1.0):
        raise ShapeError("cosines must lie in (-1, 1)")
    pad = np.concatenate([np.full(k, -np.inf), t, np.full(k, np.inf)])
    idx = np.arange(n) + k
    cand = np.stack([np.abs(pad[idx + j] - t) for j in range(-k, k + 1) if j != 0], axis=1)
    eps = np.partition(cand, k - 1, axis=1)[:, k - 1]
    if np.any(eps <= 0.0):
        raise ShapeError(
            "repeated samples: the nearest-neighbour entropy estimate needs distinct values"
        )
    h_t = digamma(n) - digamma(k) + np.log(2.0) + np.mean(np.log(eps))
    return float(h_t + sphere_log_area(d - 2) + 0.5 * (d - 3) * np.mean(np.log1p(-t * t)))


# ----------------------------------------------------------------------------------------------
# Simulation
# ----------------------------------------------------------------------------------------------

_PROTOCOL_CODE = {name: i for i, name in enumerate(PROTOCOLS)}

#: Columns of ThermoRun.chain_means.
STATISTICS = ("t", "t2", "r", "r2", "log_r", "stretch")


@numba.njit(cache=True)
def _thermo_kernel(
    code, W, mu, field, sigma, lr, weight_decay, radius, n_steps, burn_in, thin, seed, acc, samples
):
    """Advance each chain (row of W) n_steps; accumulate STATISTICS after burn_in, sample t."""
    np.random.seed(seed)
    n_chains, d = W.shape
    xi = np.empty(d)
    for c in range(n_chains):
        w = W[c]
        j = 0
        for k in range(n_steps):
            r2 = 0.0
            mw = 0.0
            for i in range(d):
                r2 += w[i] * w[i]
                mw += mu[i] * w[i]
            r = np.sqrt(r2)
            t = mw / r
            step = lr * r2 if code != 2 else lr
            xw = 0.0
            for i in range(d):
                xi[i] = np.random.standard_normal()
                xw += xi[i] * w[i]
            xw /= r2
            # w' = w - step (h/r)(mu - t w/r) - step (sigma/r)(xi - xw w) - step lambda w
            a = 1.0 - step * weight_decay + step * field * t / r2 + step * sigma * xw / r
            bm = step * field / r
            bx = step * sigma / r
            new2 = 0.0
            for i in range(d):
                w[i] = a * w[i] - bm * mu[i] - bx * xi[i]
                new2 += w[i] * w[i]
            stretch = new2 / r2 - 1.0
            if code == 0:
                s = radius / np.sqrt(new2)
                for i in range(d):
                    w[i] *= s
            if k >= burn_in:
                acc[c, 0] += t
                acc[c, 1] += t * t
                acc[c, 2] += r
                acc[c, 3] += r2
                acc[c, 4] += np.log(r)
                acc[c, 5] += stretch
                if (k - burn_in) % thin == 0 and j < samples.shape[1]:
                    samples[c, j] = t
                    j += 1


@dataclass(frozen=True)
class ThermoRun:
    """Per-chain time averages of an ensemble run of :class:`ScaleInvariantSGD`.

    ``chain_means[:, j]`` is the time average over the measured steps of statistic
    ``STATISTICS[j]`` (t, t^2, r, r^2, log r, stretch ``|w'|^2/|w|^2 - 1`` before projection);
    ``samples[c]`` holds t every ``thin`` steps of chain c.
    """

    process: ScaleInvariantSGD
    field: float
    chain_means: np.ndarray
    samples: np.ndarray

    def mean(self, name: str) -> tuple[float, float]:
        """Ensemble mean of a statistic and its standard error across the independent chains."""
        x = self.chain_means[:, STATISTICS.index(name)]
        return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))

    def pressure(self) -> tuple[float, float]:
        r"""Measured pressure: "sphere": :math:`E[\|w'\|^2 - r^2]/(2\tilde\eta r^4)`; else weight_decay.

        Exactly :math:`[(d-1)T + \tilde\eta\, E|\nabla_S L|^2/2]/r^2` for the discrete process;
        :math:`(d-1)T/r^2` to leading order in lr.
        """
        p = self.process
        if p.protocol != "sphere":
            return float(p.weight_decay), 0.0
        m, se = self.mean("stretch")
        c = 1.0 / (2.0 * p.lr * p.radius**2)
        return m * c, se * c

    def entropy(self, k: int = 4, groups: int = 16) -> tuple[float, float]:
        """Measured entropy of w: direction (:func:`axial_sphere_entropy`) + (d-1) E log r.

        Standard error by the delete-a-group jackknife over ``groups`` groups of whole chains.
        """
        d = self.process.d
        lr_col = self.chain_means[:, STATISTICS.index("log_r")]

        def est(rows):
            return (
                axial_sphere_entropy(self.samples[rows].ravel(), d, k=k)
                + (d - 1) * lr_col[rows].mean()
            )

        n = self.samples.shape[0]
        g = min(as_positive_int(groups, "groups", ShapeError), n)
        if g < 2:
            raise ShapeError("the entropy's standard error needs at least 2 chains")
        label = np.arange(n) % g
        full = est(np.arange(n))
        loo = np.array([est(np.flatnonzero(label != i)) for i in range(g)])
        se = float(np.sqrt((g - 1) / g * np.sum((loo - loo.mean()) ** 2)))
        return full, se


def simulate(
    process: ScaleInvariantSGD,
    *,
    field: float = 1.0,
    n_chains: int,
    n_steps: int,
    burn_in: int,
    thin: int = 20,
    r0: float = 1.0,
    seed=None,
    chunk: int | None = None,
) -> ThermoRun:
    r"""Ensemble of independent chains of ``process`` on :math:`L(w) = h\langle\hat\mu,\bar w\rangle`.

    Each chain starts at a uniformly random direction with radius ``r0`` (the fixed radius for
    "sphere"), runs ``burn_in`` steps, then ``n_steps - burn_in`` measured steps. Chains run in
    chunks of ``chunk`` (progress bar); each chunk has its own seed from ``seed``.
    """
    field = as_scalar(field, "field", low=0.0, low_open=True, error=ShapeError)
    n_chains = as_positive_int(n_chains, "n_chains", ShapeError)
    n_steps = as_positive_int(n_steps, "n_steps", ShapeError)
    burn_in = int(burn_in)
    if not 0 <= burn_in < n_steps:
        raise ShapeError(f"burn_in must be in [0, n_steps); got {burn_in}")
    thin = as_positive_int(thin, "thin", ShapeError)
    r0 = (
        process.radius
        if process.protocol == "sphere"
        else as_scalar(r0, "r0", low=0.0, low_open=True, error=ShapeError)
    )
    chunk = n_chains if chunk is None else as_positive_int(chunk, "chunk", ShapeError)
    rng = as_rng(seed)
    d = process.d
    mu = np.zeros(d)
    mu[0] = 1.0
    n_meas = n_steps - burn_in
    n_samp = (n_meas + thin - 1) // thin
    acc = np.zeros((n_chains, len(STATISTICS)))
    samples = np.zeros((n_chains, n_samp))
    sigma = float(np.sqrt(process.sigma2))
    code = _PROTOCOL_CODE[process.protocol]
    radius = float(process.radius) if process.radius is not None else 0.0
    starts = range(0, n_chains, chunk)
    for lo in progress(starts, total=len(starts), desc=f"{process.protocol} d={d}", unit="chunk"):
        hi = min(lo + chunk, n_chains)
        W = rng.standard_normal((hi - lo, d))
        W *= r0 / np.linalg.norm(W, axis=1, keepdims=True)
        a, s = acc[lo:hi].copy(), samples[lo:hi].copy()
        _thermo_kernel(
            code,
            W,
            mu,
            field,
            sigma,
            float(process.lr),
            float(process.weight_decay),
            radius,
            n_steps,
            burn_in,
            thin,
            int(rng.integers(2**31 - 1)),
            a,
            s,
        )
        acc[lo:hi], samples[lo:hi] = a, s
    return ThermoRun(process, field, acc / n_meas, samples)
