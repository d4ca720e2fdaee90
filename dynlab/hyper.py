r"""One validated set of heavy-ball hyperparameters and the constants derived from them.

Every layer of dynlab -- command lines, validation runs, :class:`dynlab.sgd.SGDPhaseSpace`,
:mod:`dynlab.minibatch` and the integrator kernels -- takes a :class:`HeavyBall`. It is
validated once, when it is made, and each derived constant of the SDE and discrete models is
computed by exactly one property here.

The optimizer is ``torch.optim.SGD`` (Robbins & Monro 1951; Polyak 1964), written with the
velocity ``v = -buf`` of Kunin et al. (2021, arXiv:2107.09133, eq. 2)::

    v_{k+1}     = momentum v_k - (1 - dampening) (g_k + weight_decay theta_k)
    theta_{k+1} = theta_k + lr v_{k+1}

with a minibatch gradient ``g_k`` of ``batch_size`` samples. The models of dynlab treat
``dampening = 0`` and ``nesterov = False`` (they say so when given anything else); the
integrator zoo runs all of torch's variants.

Fields may be scalars or arrays that broadcast against each other: a sweep over learning rates
is ``HeavyBall(lr=np.geomspace(1e-3, 1e-1, 50), momentum=0.9)`` and every derived constant then
carries the broadcast shape (:attr:`HeavyBall.shape`).
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass

import numpy as np

from .errors import HyperparameterError

__all__ = ["HeavyBall", "as_heavy_ball"]


def _real(x, name: str) -> np.ndarray:
    """``x`` as a finite float64 array (0-d for a scalar); bools and complex refused."""
    if isinstance(x, (bool, np.bool_)):
        raise HyperparameterError(f"{name} must be a real number; got {x!r}")
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as exc:  # pragma: no cover - numpy accepts nearly anything
        raise HyperparameterError(f"{name} must be a real number; got {x!r}") from exc
    if a.dtype.kind not in "iuf":
        raise HyperparameterError(f"{name} must be a real number (or array of them); got {x!r}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise HyperparameterError(f"{name} must be finite; got {x!r}")
    return a


def _scalar_or_array(a: np.ndarray):
    return float(a) if a.ndim == 0 else a


@dataclass(frozen=True, eq=False)
class HeavyBall:
    r"""Hyperparameters of heavy-ball SGD in PyTorch's names, validated once.

    Parameters
    ----------
    lr : float or array_like
        Learning rate eta > 0.
    momentum : float or array_like
        beta in [0, 1).
    weight_decay : float or array_like
        lambda >= 0 (L2 penalty added to the gradient, PyTorch's coupled convention).
    batch_size : int or array_like of int
        S >= 1.
    dampening : float
        tau in [0, 1): PyTorch multiplies the gradient by ``1 - tau`` in the momentum buffer.
    nesterov : bool
        Nesterov's look-ahead (PyTorch's ``nesterov=True``; needs ``dampening = 0``).

    Raises
    ------
    HyperparameterError
        Naming the field and its domain, for any value outside it.

    Examples
    --------
    >>> hp = HeavyBall(lr=0.1, momentum=0.9, batch_size=8)
    >>> hp.kappa == 8 * (1 - 0.9) * (1 + 0.9)        # seed 003 eq. 4: S (1 - beta^2)
    True
    >>> abs(hp.c2 - (1 - 0.9) * hp.c1) < 1e-15        # friction = (1 - beta) * force coefficient
    True
    >>> HeavyBall(lr=[0.1, 0.2], momentum=[[0.0], [0.9]]).shape   # broadcast sweep
    (2, 2)
    """

    lr: float | np.ndarray
    momentum: float | np.ndarray = 0.0
    weight_decay: float | np.ndarray = 0.0
    batch_size: int | np.ndarray = 1
    dampening: float = 0.0
    nesterov: bool = False

    def __post_init__(self):
        lr = _real(self.lr, "lr")
        if np.any(lr <= 0.0):
            raise HyperparameterError(f"lr must be > 0; got {self.lr!r}")
        beta = _real(self.momentum, "momentum")
        if np.any((beta < 0.0) | (beta >= 1.0)):
            raise HyperparameterError(f"momentum must lie in [0, 1); got {self.momentum!r}")
        wd = _real(self.weight_decay, "weight_decay")
        if np.any(wd < 0.0):
            raise HyperparameterError(f"weight_decay must be >= 0; got {self.weight_decay!r}")
        S = self._batch(self.batch_size)
        tau = _real(self.dampening, "dampening")
        if tau.ndim != 0 or not 0.0 <= float(tau) < 1.0:
            raise HyperparameterError(
                f"dampening must be a scalar in [0, 1); got {self.dampening!r}"
            )
        if not isinstance(self.nesterov, (bool, np.bool_)):
            raise HyperparameterError(f"nesterov must be a bool; got {self.nesterov!r}")
        if self.nesterov and float(tau) != 0.0:
            raise HyperparameterError(
                "nesterov momentum requires dampening = 0 (as in torch.optim.SGD)"
            )
        try:
            np.broadcast_shapes(lr.shape, beta.shape, wd.shape, S.shape)
        except ValueError as exc:
            raise HyperparameterError(
                f"lr {lr.shape}, momentum {beta.shape}, weight_decay {wd.shape} and batch_size "
                f"{S.shape} do not broadcast against each other"
            ) from exc
        for name, value in (("lr", lr), ("momentum", beta), ("weight_decay", wd)):
            object.__setattr__(self, name, _scalar_or_array(value))
        object.__setattr__(self, "batch_size", int(S) if S.ndim == 0 else S)
        object.__setattr__(self, "dampening", float(tau))
        object.__setattr__(self, "nesterov", bool(self.nesterov))

    def __eq__(self, other) -> bool:
        if not isinstance(other, HeavyBall):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, f.name), getattr(other, f.name))
            for f in dataclasses.fields(self)
        )

    def __hash__(self) -> int:
        return hash(
            tuple(np.asarray(getattr(self, f.name)).tobytes() for f in dataclasses.fields(self))
        )

    @staticmethod
    def _batch(x) -> np.ndarray:
        if isinstance(x, (bool, np.bool_)):
            raise HyperparameterError(f"batch_size must be a positive integer; got {x!r}")
        a = np.asarray(x)
        if (
            a.dtype.kind == "f"
            and np.all(np.isfinite(a))
            and np.all(a == np.round(a))
            and a.ndim > 0
        ):
            a = a.astype(np.int64)  # an integer-valued float array from np.geomspace(...).round()
        if a.dtype.kind not in "iu" or (a.ndim == 0 and not isinstance(x, numbers.Integral)):
            raise HyperparameterError(f"batch_size must be a positive integer; got {x!r}")
        if np.any(a < 1):
            raise HyperparameterError(f"batch_size must be >= 1; got {x!r}")
        return a.astype(np.int64)

    # ------------------------------------------------------------------ shape
    @property
    def shape(self) -> tuple:
        """Broadcast shape of the fields (``()`` for one optimizer)."""
        return np.broadcast_shapes(
            *(np.shape(getattr(self, f)) for f in ("lr", "momentum", "weight_decay", "batch_size"))
        )

    @property
    def is_scalar(self) -> bool:
        """Whether this is one optimizer rather than a sweep."""
        return self.shape == ()

    def replace(self, **changes) -> HeavyBall:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def require_plain(self, where: str) -> HeavyBall:
        """Return self, or raise if ``where`` models only ``dampening = 0, nesterov = False``."""
        if self.dampening != 0.0 or self.nesterov:
            raise HyperparameterError(
                f"{where} models plain heavy ball (dampening = 0, nesterov = False); got "
                f"dampening = {self.dampening}, nesterov = {self.nesterov}"
            )
        return self

    def require_scalar(self, where: str) -> HeavyBall:
        """Return self, or raise if it is a sweep (``where`` takes one optimizer)."""
        if not self.is_scalar:
            raise HyperparameterError(
                f"{where} takes one optimizer; got a sweep of shape {self.shape}"
            )
        return self

    # ------------------------------------------------------------------ derived constants
    @property
    def one_plus_beta(self):
        """``1 + momentum``."""
        return 1.0 + self.momentum

    @property
    def one_minus_beta_sq(self):
        """``1 - momentum^2`` as ``(1 - beta)(1 + beta)``: no cancellation as beta -> 1."""
        return (1.0 - self.momentum) * (1.0 + self.momentum)

    @property
    def kappa(self):
        """Inverse temperature ``S (1 - beta)(1 + beta)``.

        Kunin et al. (2021, arXiv:2107.09133, eq. 4). A product of exact factors: ``1 - beta^2``
        would lose digits as beta -> 1.
        """
        return self.batch_size * self.one_minus_beta_sq

    @property
    def c1(self):
        """Force coefficient of the SDE ``2 / (lr (1 + beta))`` (Kunin et al. 2021, eq. 3)."""
        return 2.0 / (self.lr * self.one_plus_beta)

    @property
    def c2(self):
        """Friction of the SDE ``2 (1 - beta) / (lr (1 + beta))`` (Kunin et al. 2021, eq. 3)."""
        return (1.0 - self.momentum) * self.c1

    @property
    def gamma(self):
        """Damping rate of every mode ``(1 - beta) / (lr (1 + beta))`` (Kunin et al., app. F)."""
        return 0.5 * self.c2

    @property
    def mass(self):
        """Mass ``lr (1 + beta) / 2`` of the Langevin equation (Kunin et al., eq. 3)."""
        return 0.5 * self.lr * self.one_plus_beta

    @property
    def effective_lr(self):
        """Long-run step per unit gradient ``lr (1 - dampening) / (1 - beta)``."""
        return self.lr * (1.0 - self.dampening) / (1.0 - self.momentum)

    @property
    def stability_limit(self):
        r"""``2 (1 + beta)``: noiseless heavy ball is stable iff ``lr (rho + lambda)`` is below."""
        return 2.0 * self.one_plus_beta

    def omega(self, rho):
        r"""Natural frequencies ``sqrt(c1 (rho + lambda)) = sqrt(2 (rho + lambda) / (lr (1 + b)))``.

        Kunin et al. (2021, arXiv:2107.09133, app. F); ``rho`` broadcasts after the sweep axes
        (its shape is appended to :attr:`shape`).
        """
        rho = np.asarray(rho, dtype=np.float64)
        axes = self.shape + (1,) * rho.ndim  # every field at the sweep's full shape first

        def swept(x):
            return np.reshape(np.broadcast_to(x, self.shape), axes)

        return np.sqrt(np.clip(swept(self.c1) * (rho + swept(self.weight_decay)), 0.0, None))

    def max_stable_lr(self, rho_max):
        r"""Largest stable lr of the noiseless recursion ``2 (1 + beta) / (rho_max + lambda)``."""
        return self.stability_limit / (np.asarray(rho_max, dtype=np.float64) + self.weight_decay)

    def as_tuple(self) -> tuple[float, float, float, int, float, bool]:
        """``(lr, momentum, weight_decay, batch_size, dampening, nesterov)`` for a numba kernel."""
        self.require_scalar("a kernel")
        return (
            self.lr,
            self.momentum,
            self.weight_decay,
            self.batch_size,
            self.dampening,
            self.nesterov,
        )


def as_heavy_ball(hp=None, /, **kwargs) -> HeavyBall:
    """Return ``hp`` if it is a :class:`HeavyBall`, else build one from keyword arguments.

    Lets an entry point take either ``hyper=HeavyBall(...)`` or the plain keywords
    ``lr=..., momentum=...``, never both.

    Examples
    --------
    >>> as_heavy_ball(lr=0.1, momentum=0.5) == HeavyBall(0.1, 0.5)
    True
    """
    given = {k: v for k, v in kwargs.items() if v is not None}
    if hp is not None:
        if not isinstance(hp, HeavyBall):
            raise HyperparameterError(f"expected a HeavyBall; got {type(hp).__name__}")
        if given:
            raise HyperparameterError(
                f"pass either hyper (a HeavyBall) or the keywords {sorted(given)}, not both"
            )
        return hp
    if "lr" not in given:
        raise HyperparameterError("lr is required")
    return HeavyBall(**given)
