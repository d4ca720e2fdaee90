r"""Ensembles of the discrete scale-invariant SGD protocols (numba) and their time averages.

:func:`simulate` runs independent chains of :class:`~dynlab.thermo.process.ScaleInvariantSGD`
on the linear toy loss; :class:`ThermoRun` holds the per-chain time averages by name
(:data:`STATISTICS`) and turns them into thermodynamic measurements with standard errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .._validate import as_positive_int, as_rng, as_scalar
from ..errors import ShapeError
from ..progress import progress
from .gibbs import axial_sphere_entropy
from .process import PROTOCOLS, ScaleInvariantSGD

__all__ = ["STATISTICS", "ThermoRun", "simulate"]

#: The kernel's protocol codes: the position in PROTOCOLS.
_SPHERE, _ELR, _LR = (PROTOCOLS.index(name) for name in ("sphere", "elr", "lr"))

#: Columns of ThermoRun.chain_means (and of the kernel's accumulator), by name.
STATISTICS = ("t", "t2", "r", "r2", "log_r", "stretch")
_T, _T2, _R, _R2, _LOG_R, _STRETCH = (STATISTICS.index(name) for name in STATISTICS)


@numba.njit(cache=True)
def _thermo_kernel(
    code, W, mu, field, sigma, lr, weight_decay, radius, n_steps, burn_in, thin, seed, acc, samples
):
    """Advance each chain (row of W) n_steps; accumulate STATISTICS after burn_in, sample t."""
    # numba kernels draw from numba's own legacy-API generator, seeded here per call
    np.random.seed(seed)  # noqa: NPY002
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
            step = lr * r2 if code != _LR else lr
            xw = 0.0
            for i in range(d):
                xi[i] = np.random.standard_normal()  # noqa: NPY002
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
            if code == _SPHERE:
                s = radius / np.sqrt(new2)
                for i in range(d):
                    w[i] *= s
            if k >= burn_in:
                acc[c, _T] += t
                acc[c, _T2] += t * t
                acc[c, _R] += r
                acc[c, _R2] += r2
                acc[c, _LOG_R] += np.log(r)
                acc[c, _STRETCH] += stretch
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
        r"""Measured pressure; "sphere": :math:`E[\|w'\|^2 - r^2]/(2\tilde\eta r^4)`.

        Other protocols: weight_decay (the pressure they impose).

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
    r"""Ensemble of chains of ``process`` on :math:`L(w) = h\langle\hat\mu,\bar w\rangle`.

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
    code = PROTOCOLS.index(process.protocol)
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
