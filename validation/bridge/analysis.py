"""Host-side analysis of the recorded observables: estimates with standard errors, predictions.

Every prediction comes from :mod:`dynlab` (``dynlab.modes`` for frequencies and stationary
variances, ``dynlab.observables`` for fits); this module only cuts the records into the pieces
those functions take, and estimates standard errors of time averages of correlated series by
batch means.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from dynlab.modes import mode_frequencies, stationary_mode_variances
from dynlab.observables import dominant_frequencies, fit_power_law
from dynlab.stats import TimeAverage, time_average

from .config import MIN_ESS, STATIONARITY_Z

__all__ = [
    "windowed_mean",
    "verdict",
    "block_variance",
    "stationarity",
    "noise_covariance",
    "delta_H",
    "exponent_vs_window",
    "velocity_spectrum_peak",
    "fft_peaks",
    "phase_space",
    "t_interval",
]


def windowed_mean(x, start: int, stop: int) -> TimeAverage:
    """Mean of ``x[start:stop]`` with its autocorrelation-time standard error and effective
    sample size (:func:`dynlab.stats.time_average`)."""
    x = np.asarray(x, dtype=float)
    if not 0 <= start < stop <= len(x) or stop - start < 4:
        raise ValueError(f"window [{start}, {stop}) must hold >= 4 of the {len(x)} steps")
    return time_average(x[start:stop])


def verdict(*averages: TimeAverage) -> bool:
    """Whether every average has an effective sample size of at least :data:`.config.MIN_ESS`
    (below it, no z-score or stationarity verdict is given)."""
    return all(a.ess >= MIN_ESS for a in averages)


def block_variance(x, n_blocks: int = 10) -> tuple[float, float]:
    """Variance of a series (about its mean) and its standard error from per-block variances.

    Blocks must be longer than the correlation time: a block variance misses fluctuations slower
    than the block.
    """
    x = np.asarray(x, dtype=float)
    size = len(x) // n_blocks
    if size < 2:
        raise ValueError(f"series of {len(x)} points is too short for {n_blocks} blocks")
    blocks = x[: size * n_blocks].reshape(n_blocks, size)
    v = blocks.var(axis=1, ddof=1)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(n_blocks))


def stationarity(delta2, z_max: float = STATIONARITY_Z) -> dict:
    """Compare the mean ||delta||^2 of the second and last thirds of a run.

    ``stationary`` is None (no verdict) when either third has an effective sample size below
    :data:`.config.MIN_ESS`.
    """
    n = len(delta2) // 3
    mid, last = windowed_mean(delta2, n, 2 * n), windowed_mean(delta2, 2 * n, len(delta2))
    se = np.hypot(mid.se, last.se)
    z = (last.mean - mid.mean) / se if se > 0 else 0.0
    ok = verdict(mid, last)
    return {
        "mean_mid": mid.mean,
        "mean_last": last.mean,
        "z": float(z),
        "ess": float(min(mid.ess, last.ess)),
        "stationary": bool(abs(z) < z_max) if ok else None,
    }


def noise_covariance(res: dict) -> dict:
    """``q_i^T Sigma q_i`` and ``tr Sigma`` with standard errors from minibatch-gradient output.

    ``Sigma = S Cov(g_B)`` (dynlab's convention: the covariance of the optimizer's own batches,
    their finite-population factor included). ``Var(q^T g_B)`` is the unbiased sample variance
    of independent batches; its standard error is ``sqrt((m4 - s^4) / M)`` with ``m4`` the
    fourth central moment (no Gaussian assumption). ``tr Cov(g_B)`` is
    ``sum ||g_B - mean g||^2 / (M - 1)``, with the standard error of that mean.
    """
    proj, c, S = res["proj"], res["centred_sqnorm"], res["S"]
    M = len(c)
    dev = proj - proj.mean(0)
    var = (dev**2).sum(0) / (M - 1)
    m4 = (dev**4).mean(0)
    var_se = np.sqrt(np.maximum(m4 - var**2, 0.0) / M)
    tr = c.sum() / (M - 1)
    tr_se = np.std(c, ddof=1) / np.sqrt(M) * M / (M - 1)
    return {"qSq": S * var, "qSq_se": S * var_se, "trSigma": S * tr, "trSigma_se": S * tr_se}


def delta_H(res: dict) -> dict:
    """The consecutive and same-batch energy changes of an energy-drift record."""
    H = res["K0"] + res["L0"]
    return {"consecutive": np.diff(H), "same_batch": res["K1"] + res["L1"] - H}


def exponent_vs_window(Delta2, n_lengths: int = 12) -> dict:
    """Diffusion exponent fitted on trajectories of increasing length (seed 003 Fig. 7).

    For each length L (geometric grid up to the whole run), ``fit_power_law`` with the last-2/3 rule
    on steps 1..L.
    """
    K = len(Delta2)
    k = np.arange(1, K + 1, dtype=float)
    lengths = np.unique(np.geomspace(min(30, K), K, n_lengths).astype(int))
    c, se = [], []
    for L in lengths:
        fit = fit_power_law(k[:L], Delta2[:L], window="last_two_thirds")
        c.append(fit.c)
        se.append(fit.stderr)
    return {"lengths": lengths, "c": np.array(c), "stderr": np.array(se)}


def t_interval(x, axis=-1, level: float = 0.95):
    """Mean and half-width of the Student-t confidence interval along ``axis``."""
    x = np.asarray(x, dtype=float)
    n = x.shape[axis]
    mean = x.mean(axis)
    if n < 2:
        return mean, np.full_like(mean, np.nan)
    half = stats.t.ppf(0.5 + level / 2, n - 1) * x.std(axis, ddof=1) / np.sqrt(n)
    return mean, half


def velocity_spectrum_peak(rho, *, lr, momentum, weight_decay, n_grid: int = 200_001):
    """Peak frequency and half width at half maximum (cycles per step) of the spectrum of ``q_i^T
    v``.

    Per mode the exact heavy-ball recursion (seed 003 eq. 2, k = rho + lambda) makes theta an
    AR(2) process, ``theta_{t+1} - (1 + beta - lr k) theta_t + beta theta_{t-1} = -lr xi_t``, and
    ``v_{t+1} = (theta_{t+1} - theta_t) / lr``, so the velocity's spectral density is proportional
    to
    ``|1 - e^{-i w}|^2 / |1 - (1 + beta - lr k) e^{-i w} + beta e^{-2 i w}|^2``. Its peak is what
    the FFT
    of a recorded velocity looks for; it differs from the oscillation frequency of the mode
    (``mode_frequencies``, the argument of the recursion's eigenvalue) by O(damping), the factor
    ``|1 - e^{-i w}|^2`` lifting high frequencies. Evaluated on ``n_grid`` points in [0, 1/2].

    Returns
    -------
    (peak, hwhm) : arrays of the shape of ``rho``
    """
    f = np.linspace(0.0, 0.5, n_grid)[1:]
    z = np.exp(-2j * np.pi * f)
    k = np.atleast_1d(np.asarray(rho, dtype=float)) + weight_decay
    phi1 = 1.0 + momentum - lr * k
    dens = np.abs(1 - z) ** 2 / np.abs(1 - phi1[:, None] * z + momentum * z**2) ** 2
    i = np.argmax(dens, axis=1)
    above = dens >= 0.5 * dens[np.arange(len(k)), i][:, None]
    width = np.array([f[row].max() - f[row].min() for row in above]) / 2
    return f[i], width


#: Length (steps) of the segments whose FFT peaks are averaged: long enough to resolve a peak
#: of half width ~ (1 - sqrt(beta)) / (2 pi) ~ 0.008 cycles/step at beta = 0.9.
FFT_SEGMENT = 1024


def fft_peaks(x, segment: int = FFT_SEGMENT) -> tuple[np.ndarray, np.ndarray]:
    """Dominant frequency (``dominant_frequencies``) of each column of ``x``, averaged over
    segments.

    The series is cut into ``len(x) // segment`` segments (at least one, of at least 8 points);
    returns the mean peak and its standard error over segments (NaN for one segment). The
    periodogram's argmax is noisy within the peak's width, and for the asymmetric velocity peak
    biased towards its heavier, high-frequency side.
    """
    x = np.asarray(x, dtype=float)
    seg = max(8, min(segment, len(x)))
    n = len(x) // seg
    peaks = np.array(
        [dominant_frequencies(x[j * seg : (j + 1) * seg], dt=1.0, n_peaks=1)[0] for j in range(n)]
    )
    sem = peaks.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(peaks.shape[1:], np.nan)
    return peaks.mean(axis=0), sem


def phase_space(a, b, rho, *, lr, momentum, weight_decay, batch_size, qSq=None) -> dict:
    """Frequencies and stationary variances of the projected trajectories against the theory.

    Parameters
    ----------
    a, b : (K, m) arrays
        ``q_i^T (theta_k - theta*)`` and ``q_i^T v_k`` for the projected eigenvectors.
    rho : (m,) array
        Their eigenvalues (all > 0).
    qSq : (m,) array, optional
        Measured ``q_i^T Sigma q_i``; absolute stationary variances are predicted from it.

    Uses the second half of the run. Frequencies: dominant FFT peak of the velocity projection
    (:func:`fft_peaks`) against ``mode_frequencies`` (SDE and exact discrete) and against the peak
    of the velocity's stationary spectrum and its half width (:func:`velocity_spectrum_peak`).
    Variances: block variances against
    ``stationary_mode_variances`` with ``Sigma = sigma^2 H`` (Assumption 5: ratios only) and, if
    given, with the measured ``q_i^T Sigma q_i`` (absolute).
    """
    K = a.shape[0]
    a2, b2 = a[K // 2 :], b[K // 2 :]
    rho = np.asarray(rho, dtype=float)
    hyper = dict(lr=lr, momentum=momentum, weight_decay=weight_decay)
    peak, hwhm = velocity_spectrum_peak(rho, **hyper)
    measured, measured_se = fft_peaks(b2)
    out = {
        "freq_measured": measured,
        "freq_measured_se": measured_se,
        "freq_sde": np.asarray(mode_frequencies(rho, **hyper, exact=False)),
        "freq_exact": np.asarray(mode_frequencies(rho, **hyper, exact=True)),
        "freq_peak": peak,
        "freq_peak_hwhm": hwhm,
    }
    va = np.array([block_variance(a2[:, i]) for i in range(len(rho))])
    vb = np.array([block_variance(b2[:, i]) for i in range(len(rho))])
    out["var_a"], out["var_a_se"], out["var_b"], out["var_b_se"] = (
        va[:, 0],
        va[:, 1],
        vb[:, 0],
        vb[:, 1],
    )
    for exact in (False, True):
        tag = "exact" if exact else "sde"
        vth, vv, _ = stationary_mode_variances(
            rho, rho, **hyper, batch_size=batch_size, exact=exact
        )
        out[f"assump5_var_a_{tag}"], out[f"assump5_var_b_{tag}"] = np.asarray(vth), np.asarray(vv)
        if qSq is not None:
            vth, vv, _ = stationary_mode_variances(
                rho, np.asarray(qSq, dtype=float), **hyper, batch_size=batch_size, exact=exact
            )
            out[f"measured_var_a_{tag}"], out[f"measured_var_b_{tag}"] = (
                np.asarray(vth),
                np.asarray(vv),
            )
    return out
