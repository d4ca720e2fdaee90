r"""The time-dependent moments and exact transitions of an Ornstein-Uhlenbeck process.

:class:`Transient` is the half of :class:`dynlab.ou_process.OUProcess` that evolves from a fixed
``X_0 = x0`` over SDE time ``t``: the propagator ``e^{-A t}``, the mean
``mu + e^{-A t} (x0 - mu)``, the covariance ``(B - e^{-A t} B e^{-A^T t}) / kappa`` (by Van Loan's
block exponential, so it needs no stable A), cross-covariances and exact samples (Kunin et al.
2021, arXiv:2107.09133, eq. 6 and app. D). It reads ``A``, ``D``, ``kappa``, ``mu`` and ``n`` from
the process.
"""

from __future__ import annotations

import numpy as np

from . import config
from ._linalg import expm, psd_sqrt, sym
from ._validate import (
    as_array,
    as_positive_int,
    as_rng,
    time_arguments,
)
from .errors import ShapeError

__all__ = ["Transient"]


def _times(t, name: str = "time") -> np.ndarray:
    t = as_array(t, name)
    if np.any(t < 0):
        raise ShapeError(f"{name} must be >= 0 (SDE time since X_0 = x0)")
    return t


class Transient:
    """Moments and transitions from ``X_0 = x0``; a mixin of :class:`.ou_process.OUProcess`."""

    def _propagator(self, t: np.ndarray) -> np.ndarray:
        return expm(-t[..., None, None] * self.A)

    def _cov_one(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(Phi, C) at one time by Van Loan's block exponential and doubling.

        ``[[A, 2D/kappa], [0, -A^T]] tau`` exponentiates to ``[[., G12], [0, e^{-A^T tau}]]`` with
        ``C(tau) = e^{-A tau} G12`` (Van Loan 1978), taken at ``tau = t / 2^s`` with
        ``||A|| tau <= VAN_LOAN_NORM_MAX``; then ``C(2 tau) = C(tau) + Phi(tau) C(tau) Phi(tau)^T``
        (a sum of PSD terms: no cancellation,
        valid for unstable A too) and ``Phi(2 tau) = Phi(tau)^2``.
        """
        n = self.n
        if t == 0.0:
            return np.eye(n), np.zeros((n, n))
        normA = np.linalg.norm(self.A, 1)
        x = normA * t / config.VAN_LOAN_NORM_MAX
        s = max(0, int(np.ceil(np.log2(x))) if x > 1.0 else 0)
        tau = t / 2.0**s
        M = np.zeros((2 * n, 2 * n))
        M[:n, :n] = self.A
        M[:n, n:] = 2.0 * self.D / self.kappa
        M[n:, n:] = -self.A.T
        E = expm(M * tau)
        Phi = E[n:, n:].T
        C = Phi @ E[:n, n:]
        for _ in range(s):
            C = C + Phi @ C @ Phi.T
            Phi = Phi @ Phi
        return Phi, sym(C)

    def transition(self, *args, time=None, t=None, steps=None) -> tuple[np.ndarray, np.ndarray]:
        r"""Exact transition over an SDE time t: ``X_t = mu + Phi (X_0 - mu) + N(0, C)``.

        ``time`` (keyword): the SDE time t >= 0, a scalar (``t = lr k`` for SGD).

        Returns
        -------
        Phi : (n, n) ndarray
            ``e^{-A t}``.
        C : (n, n) ndarray
            ``Var(X_t | X_0) = int_0^t e^{-A s} (2 D / kappa) e^{-A^T s} ds`` (Van Loan + doubling).

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.ou import OUProcess
        >>> ou = OUProcess([[0.0, -1.0], [2.0, 0.5]], [[0.0, 0.0], [0.0, 0.5]], kappa=2.0)
        >>> Phi, C = ou.transition(time=0.7)
        >>> S = ou.stationary_cov()        # stationarity: S = Phi S Phi^T + C
        >>> bool(np.allclose(Phi, scipy.linalg.expm(-0.7 * ou.A)))
        True
        >>> bool(np.allclose(C, S - Phi @ S @ Phi.T))
        True
        """
        a = time_arguments(
            "OUProcess.transition", args, {"time": time}, steps=steps, former={"t": (t, "time")}
        )
        time = _times(a["time"])
        if time.ndim != 0:
            raise ShapeError(f"time must be a scalar; got shape {time.shape}")
        return self._cov_one(float(time))

    def mean(self, *args, time=None, x0=None, t=None, steps=None) -> np.ndarray:
        r"""``E[X_t] = mu + e^{-A t} (x0 - mu)``; shape ``t.shape + (n,)``.

        ``time`` (keyword): the SDE times t >= 0, an array (``t = lr k`` for SGD). ``x0`` is
        required and may have leading axes.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.ou import OUProcess
        >>> ou = OUProcess([[0.0, -1.0], [2.0, 0.5]], [[0.0, 0.0], [0.0, 0.5]], kappa=2.0)
        >>> x0 = np.array([1.0, 0.0])
        >>> bool(np.allclose(ou.mean(time=0.7, x0=x0), scipy.linalg.expm(-0.7 * ou.A) @ x0))
        True
        """
        a = time_arguments(
            "OUProcess.mean", args, {"time": time, "x0": x0}, steps=steps, former={"t": (t, "time")}
        )
        t, x0 = _times(a["time"]), a["x0"]
        if x0 is None:
            raise ShapeError("x0 is required: the fixed start X_0 of the process")
        x0 = as_array(x0, "x0")
        if x0.shape[-1:] != (self.n,):
            raise ShapeError(f"x0 must have shape (..., {self.n}); got {x0.shape}")
        return self.mu + np.einsum("...ij,...j->...i", self._propagator(t), x0 - self.mu)

    def cov(self, *args, time=None, t=None, steps=None) -> np.ndarray:
        r"""``Var(X_t)`` given a fixed ``X_0``; shape ``t.shape + (n, n)``.

        ``time`` (keyword): the SDE times t >= 0, an array (``t = lr k`` for SGD).

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.ou import OUProcess
        >>> ou = OUProcess([[0.0, -1.0], [2.0, 0.5]], [[0.0, 0.0], [0.0, 0.5]], kappa=2.0)
        >>> bool(np.allclose(ou.cov(time=80.0), ou.stationary_cov()))  # forgets X_0: stationary
        True
        """
        a = time_arguments(
            "OUProcess.cov", args, {"time": time}, steps=steps, former={"t": (t, "time")}
        )
        t = _times(a["time"])
        out = np.empty(t.shape + (self.n, self.n))
        for idx in np.ndindex(t.shape):
            out[idx] = self._cov_one(float(t[idx]))[1]
        return out

    def cross_cov(self, *args, time=None, time2=None, t=None, s=None, steps=None) -> np.ndarray:
        r"""``Cov(X_t, X_s)`` given a fixed ``X_0`` (seed 003 eq. 6).

        ``time`` and ``time2`` (keywords): the SDE times t and s >= 0, arrays that broadcast.
        ``Var(X_t) e^{-A^T (s - t)}`` for ``s >= t`` and ``e^{-A (t - s)} Var(X_s)`` for ``t > s``;
        shape ``broadcast(t, s).shape + (n, n)``.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.ou import OUProcess
        >>> ou = OUProcess([[0.0, -1.0], [2.0, 0.5]], [[0.0, 0.0], [0.0, 0.5]], kappa=2.0)
        >>> E = scipy.linalg.expm(-1.0 * ou.A)
        >>> bool(np.allclose(ou.cross_cov(time=80.0, time2=81.0), ou.stationary_cov() @ E.T))
        True
        """
        a = time_arguments(
            "OUProcess.cross_cov",
            args,
            {"time": time, "time2": time2},
            steps=steps,
            former={"t": (t, "time"), "s": (s, "time2")},
        )
        if a["time2"] is None:
            raise ShapeError("time2 is required: the second SDE time s of Cov(X_t, X_s)")
        t, s = np.broadcast_arrays(_times(a["time"]), _times(a["time2"], "time2"))
        out = np.empty(t.shape + (self.n, self.n))
        for idx in np.ndindex(t.shape):
            ti, si = float(t[idx]), float(s[idx])
            C = self._cov_one(min(ti, si))[1]
            E = expm(-abs(si - ti) * self.A)
            out[idx] = C @ E.T if si >= ti else E @ C
        return out

    def sample(
        self, x0, *args, time=None, n_paths=None, seed=None, t=None, steps=None
    ) -> np.ndarray:
        r"""Exact samples of the process on a time grid (no time-stepping error).

        Parameters
        ----------
        x0 : (n,) or (n_paths, n) array_like, or None
            Initial state at time 0; None draws it from the stationary law N(mu, B / kappa).
        time : (m,) array_like, keyword
            Non-decreasing SDE times >= 0 at which to record X (``t = lr k`` for SGD).
        n_paths : int, keyword
            Number of independent paths.
        seed : int >= 0, SeedSequence or Generator, optional

        Returns
        -------
        (m, n_paths, n) ndarray

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from dynlab.ou import OUProcess
        >>> ou = OUProcess([[0.0, -1.0], [2.0, 0.5]], [[0.0, 0.0], [0.0, 0.5]], kappa=2.0)
        >>> x0 = np.array([1.0, 0.0])
        >>> X = ou.sample(x0, time=[0.7], n_paths=4000, seed=0)[0]
        >>> Phi, C = ou.transition(time=0.7)
        >>> se = np.sqrt(np.diag(C) / 4000)          # standard errors of the mean
        >>> z = (X.mean(axis=0) - Phi @ x0) / se
        >>> bool(np.all(np.abs(z) < 4))
        True
        """
        a = time_arguments(
            "OUProcess.sample",
            args,
            {"time": time, "n_paths": n_paths, "seed": seed},
            steps=steps,
            former={"t": (t, "time")},
        )
        t = _times(a["time"])
        if t.ndim != 1 or np.any(np.diff(t) < 0):
            raise ShapeError("time must be a 1-D non-decreasing array of SDE times")
        n_paths = as_positive_int(a["n_paths"], "n_paths", error=ShapeError)
        rng = as_rng(a["seed"])
        if x0 is None:
            L = psd_sqrt(self.stationary_cov())
            x = self.mu + rng.standard_normal((n_paths, self.n)) @ L.T
        else:
            x0 = as_array(x0, "x0")
            if x0.shape not in ((self.n,), (n_paths, self.n)):
                raise ShapeError(
                    f"x0 must have shape ({self.n},) or (n_paths, n) = ({n_paths}, {self.n}); "
                    f"got {x0.shape}"
                )
            x = np.broadcast_to(x0, (n_paths, self.n)).copy()
        out = np.empty((t.size, n_paths, self.n))
        prev = 0.0
        cache: dict[float, tuple[np.ndarray, np.ndarray]] = {}
        for j, tj in enumerate(t):
            dt = float(tj - prev)
            if dt == 0.0:
                out[j] = x
                continue
            if dt not in cache:
                Phi, C = self._cov_one(dt)
                cache[dt] = (Phi, psd_sqrt(C))
            Phi, L = cache[dt]
            x = self.mu + (x - self.mu) @ Phi.T + rng.standard_normal((n_paths, self.n)) @ L.T
            out[j] = x
            prev = float(tj)
        return out
