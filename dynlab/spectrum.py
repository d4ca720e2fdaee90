r"""The eigendecomposition of a Hessian, computed once and shared by every model built on it.

Heavy-ball SGD on a quadratic decouples in the eigenbasis ``H q_i = rho_i q_i`` (Kunin et al.
2021, arXiv:2107.09133, sec. 4 and app. F): after the one ``O(d^3)`` ``eigh`` each further
learning rate, momentum, batch size or weight decay costs ``O(d)`` per scalar observable. A
:class:`Spectrum` holds that eigendecomposition; :class:`dynlab.sgd.SGDPhaseSpace` takes one in
place of H, so a sweep (a :class:`~dynlab.hyper.HeavyBall` whose fields are arrays) or several
models reuse it::

    spectrum = Spectrum(H)
    sweep = SGDPhaseSpace(spectrum, hyper=HeavyBall(lr=np.geomspace(1e-3, 1e-1, 1000)),
                          noise_cov=Sigma)
    sweep.speed()            # shape (1000,): one value per learning rate
"""

from __future__ import annotations

import numpy as np

from . import config
from ._linalg import eigh_descending, sym
from ._validate import as_symmetric, check_definite_spectrum, definite_spectrum
from .errors import NotPositiveDefiniteError, StabilityRegionError, UnstableDriftError
from .hyper import HeavyBall, as_heavy_ball

__all__ = ["Spectrum", "per_mode"]

#: The HeavyBall fields a sweep may vary.
FIELDS = ("lr", "momentum", "weight_decay", "batch_size")


def per_mode(hyper: HeavyBall, ndim: int = 1) -> HeavyBall:
    """``hyper`` with ``ndim`` trailing unit axes on each field, to broadcast against modes.

    A sweep of shape ``s`` then meets per-mode arrays of shape ``(d,)`` (``ndim = 1``) as numpy
    broadcasting does, giving shape ``s + (d,)``. One optimizer is returned unchanged.

    Examples
    --------
    >>> hp = per_mode(HeavyBall(lr=[0.1, 0.2, 0.3], momentum=0.9))
    >>> np.shape(hp.lr), np.shape(hp.momentum), (hp.lr * np.ones(5)).shape
    ((3, 1), (3, 1), (3, 5))
    """
    if hyper.is_scalar:
        return hyper
    shape = hyper.shape + (1,) * ndim
    return hyper.replace(
        **{f: np.broadcast_to(getattr(hyper, f), hyper.shape).reshape(shape) for f in FIELDS}
    )


class Spectrum:
    r"""Eigenpairs ``(rho, q)`` of a symmetric positive semi-definite Hessian, descending.

    Parameters
    ----------
    H : (d, d) array_like
        Symmetric positive semi-definite.

    Raises
    ------
    NotSymmetricError, NotPositiveDefiniteError
        If H is not symmetric or has a negative eigenvalue beyond rounding
        (``config.PSD_RTOL`` relative).

    Examples
    --------
    >>> import numpy as np
    >>> H = np.array([[2.0, 0.5], [0.5, 1.0]])
    >>> s = Spectrum(H)
    >>> bool(np.allclose(H @ s.q, s.q * s.rho)) and bool(np.all(np.diff(s.rho) <= 0))
    True
    """

    def __init__(self, H):
        self.H = as_symmetric(H, "H")
        self.rho, self.q = eigh_descending(self.H)
        if self.rho.size and self.rho[-1] < -config.PSD_RTOL * np.max(np.abs(self.rho)):
            raise NotPositiveDefiniteError(
                f"H must be positive semi-definite; it has eigenvalue {self.rho[-1]:.3g}"
            )

    @property
    def d(self) -> int:
        """Number of parameters."""
        return self.rho.size

    def modal(self, M: np.ndarray) -> np.ndarray:
        """``q^T M q``, a symmetric matrix in the eigenbasis (two GEMMs), symmetrised exactly.

        Examples
        --------
        >>> import numpy as np
        >>> s = Spectrum(np.diag([1.0, 3.0]))
        >>> s.modal(np.array([[1.0, 0.2], [0.2, 5.0]])).tolist()     # q swaps the two axes
        [[5.0, 0.2], [0.2, 1.0]]
        """
        return sym(self.q.T @ (M @ self.q))

    def modal_diag(self, M: np.ndarray) -> np.ndarray:
        """``q_i^T M q_i`` for every i: the diagonal of :meth:`modal` (one GEMM).

        Examples
        --------
        >>> import numpy as np
        >>> s = Spectrum(np.array([[2.0, 0.5], [0.5, 1.0]]))
        >>> M = np.array([[1.0, 0.3], [0.3, 2.0]])
        >>> bool(np.allclose(s.modal_diag(M), np.diag(s.q.T @ M @ s.q)))
        True
        """
        return np.sum(self.q * (M @ self.q), axis=0)

    def stable(self, hyper=None, **kwargs) -> bool | np.ndarray:
        r"""Whether heavy-ball SGD on H is stable and has a stationary law, per optimizer.

        Stable iff ``0 < lr (rho_i + weight_decay) < 2 (1 + momentum)`` for every eigenvalue
        (Kunin et al. 2021, arXiv:2107.09133, eq. 2 as a linear recursion; the lower bound says
        that ``H + weight_decay I`` is definite: its smallest eigenvalue above ``d eps`` times its
        largest). The optimizer is
        ``hyper`` (a :class:`~dynlab.hyper.HeavyBall`, may be a sweep) or the keywords; the
        result has the sweep's shape.

        Examples
        --------
        Against the spectral radius of the one-step matrix ``F`` of each learning rate:

        >>> import numpy as np
        >>> H, beta = np.diag([4.0, 1.0]), 0.5
        >>> lrs = np.linspace(0.05, 1.0, 20)
        >>> I = np.eye(2)
        >>> radius = [max(abs(np.linalg.eigvals(
        ...     np.block([[I - lr * H, lr * beta * I], [-H, beta * I]])))) for lr in lrs]
        >>> ok = Spectrum(H).stable(lr=lrs, momentum=beta)
        >>> bool(np.array_equal(ok, np.array(radius) < 1))
        True
        """
        definite, inside, _, _ = self._margins(as_heavy_ball(hyper, **kwargs))
        ok = definite & inside
        return bool(ok) if ok.ndim == 0 else ok

    def require_stable(self, hyper: HeavyBall) -> None:
        """Raise, naming the first offending optimizer of a sweep, unless :meth:`stable` holds.

        Raises
        ------
        UnstableDriftError
            If ``H + weight_decay I`` is singular (the drift has a zero eigenvalue).
        StabilityRegionError
            If ``lr (rho_max + weight_decay) >= 2 (1 + momentum)``.
        """
        definite, inside, top, bottom = self._margins(hyper)
        # the worst-conditioned optimizer: refused if singular, warned about if ill-conditioned
        ratio = bottom / np.maximum(top, np.finfo(np.float64).tiny)
        i = np.unravel_index(np.argmin(ratio), ratio.shape)
        check_definite_spectrum(
            float(bottom[i]),
            float(top[i]),
            self.d,
            "H + weight_decay I",
            UnstableDriftError,
            ": the drift A has a zero eigenvalue and SGD has no stationary law; add weight_decay "
            "or restrict to range(H)",
        )
        if not np.all(inside):
            i = np.unravel_index(np.argmin(inside), inside.shape)
            lr = np.broadcast_to(hyper.lr, inside.shape)[i]
            limit = np.broadcast_to(hyper.stability_limit, inside.shape)[i]
            raise StabilityRegionError(
                f"lr = {lr:.6g} is beyond the stability limit of heavy-ball SGD: need "
                f"lr (rho_max + weight_decay) < 2 (1 + momentum), i.e. lr < {limit / top[i]:.6g}"
            )

    def _margins(self, hyper: HeavyBall):
        """Definiteness of ``H + weight_decay I`` and ``lr k_max < 2 (1 + beta)``, per optimizer."""
        wd = np.broadcast_to(hyper.weight_decay, hyper.shape)
        top, bottom = self.rho[0] + wd, self.rho[-1] + wd
        definite = definite_spectrum(bottom, top, self.d)  # require_stable's test, per optimizer
        inside = np.broadcast_to(hyper.lr * top < hyper.stability_limit, hyper.shape)
        return definite, inside, top, bottom
