"""The scheme registry: every subclass of :class:`Scheme` that sets ``name`` joins ``SCHEMES``.

A scheme declares its properties as class attributes (order, strong/weak order, symplectic,
reversible, ...), its hyperparameters with defaults, and how it advances an ensemble
(``advance``, calling its numba kernel). :func:`dynlab.integrators.run` validates the input,
builds the arrays, and drives ``advance`` in chunks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from .. import config
from .._linalg import psd_sqrt
from .._validate import as_array, as_scalar
from ..errors import HyperparameterError, ShapeError, StabilityRegionError
from ..hyper import HeavyBall
from ..models import LinearRegressionProblem, QuadraticProblem

__all__ = ["Scheme", "SCHEMES", "REQUIRED", "psd_sqrt"]


class _Required:
    """Marker for a hyperparameter without a default."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()

_REGISTRY: dict[str, type[Scheme]] = {}

#: Every scheme of the zoo by name (read-only); a scheme joins by being defined.
SCHEMES = MappingProxyType(_REGISTRY)


class Scheme(ABC):
    """Base class of the integrator zoo.

    Subclasses set the class attributes below; setting ``name`` registers the class in
    :data:`SCHEMES` (a second class with the same name is rejected).

    Attributes
    ----------
    name : str
        Registry key, used as ``run(name, ...)``.
    kind : {"optimizer", "hamiltonian", "sde"}
        What it integrates: a discrete optimizer (the process itself), the Hamiltonian flow
        ``theta' = M^-1 p, p' = -grad V(theta) [- friction p]`` with time step ``dt``, or the
        Langevin SDE of seed 003 eq. 3 with time step ``dt`` in SDE time (t = lr k).
    order : float or None
        Global order of accuracy on the deterministic flow (Hamiltonian schemes).
    strong_order, weak_order : float or None
        Orders of an SDE solver (additive noise); ``inf`` for an exact transition.
    symplectic : bool
        The step map preserves the symplectic form (with friction 0).
    reversible : bool
        Flipping the momentum and stepping retraces the trajectory (time-reversible).
    stochastic : bool
        Draws Brownian increments of its own (an SDE solver).
    minibatch : bool
        Its gradient is the problem's stochastic gradient (minibatch rows of a linear
        regression, additive Gaussian noise N(0, Sigma / batch_size) of a quadratic); with
        ``False`` it uses the exact gradient ``H theta - b``.
    hamiltonian : bool
        Records the energy ``H = 1/2 p^T M^-1 p + V(theta)`` and its per-step change.
    reference : str
        Where the update rule is stated.
    hyper : dict
        Hyperparameter names and defaults (``REQUIRED`` if none).
    linear_step : str or None
        Its deterministic one-step map on a quadratic mode of curvature K (an eigenvalue of
        ``H + weight_decay I``, mass-scaled for Hamiltonian schemes), used by :func:`run` to
        refuse an unstable step size up front (:meth:`check_stability`): ``"momentum"`` /
        ``"nesterov"`` (PyTorch SGD), ``"euler"`` (``I + dt A``), ``"rk4"`` (the degree-4 Taylor
        polynomial of ``dt A``), ``"midpoint"`` (``(I - dt A/2)^-1 (I + dt A/2)``),
        ``"splitting"`` (the composition ``_ops``/``_fracs`` of drifts, kicks and frictions), or
        None: no linear condition (Adam's normalised step; the exact OU transition).
        ``A = [[0, 1], [-c1 K, -friction]]`` is the flow's matrix (``c1 = 1`` and the scheme's
        friction for Hamiltonian schemes, the Langevin c1 and c2 for SDE schemes).
    """

    name: ClassVar[str]
    kind: ClassVar[str]
    order: ClassVar[float | None] = None
    strong_order: ClassVar[float | None] = None
    weak_order: ClassVar[float | None] = None
    symplectic: ClassVar[bool] = False
    reversible: ClassVar[bool] = False
    stochastic: ClassVar[bool] = False
    minibatch: ClassVar[bool] = True
    hamiltonian: ClassVar[bool] = False
    reference: ClassVar[str] = ""
    hyper: ClassVar[dict[str, Any]] = {}
    linear_step: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            return
        if cls.name in _REGISTRY:
            raise ValueError(
                f"scheme name {cls.name!r} is already registered by "
                f"{_REGISTRY[cls.name].__module__}.{_REGISTRY[cls.name].__qualname__}"
            )
        _REGISTRY[cls.name] = cls

    def __init__(self, problem, hyper: dict, noise_cov: np.ndarray | None):
        if not isinstance(problem, (QuadraticProblem, LinearRegressionProblem)):
            raise ShapeError(
                "problem must be a dynlab.models.QuadraticProblem or LinearRegressionProblem; "
                f"got {type(problem).__name__}"
            )
        self.problem = problem
        self.d = problem.d
        #: per-sample gradient-noise covariance Sigma (None: no Gaussian noise)
        self.noise_cov = noise_cov
        unknown = sorted(set(hyper) - set(self.hyper))
        if unknown:
            raise HyperparameterError(
                f"scheme {self.name!r} takes hyperparameters {sorted(self.hyper)}; "
                f"got unknown {unknown}"
            )
        values = {**self.hyper, **hyper}
        missing = sorted(k for k, val in values.items() if val is REQUIRED)
        if missing:
            raise HyperparameterError(f"scheme {self.name!r} needs hyperparameter(s) {missing}")
        self.params = self._check(values)

    # -- hooks, overridden by families -----------------------------------------------------

    @abstractmethod
    def _check(self, values: dict) -> dict:
        """Validate hyperparameter values; return them normalised (floats, arrays)."""

    def noise(self) -> tuple[int, int, np.ndarray | None]:
        """``(n_slots, dn, F)``: per step, ``n_slots`` vectors of ``dn`` standard normals z,
        used as the noise ``F z`` with a symmetric ``F`` (None: z itself)."""
        if not self.minibatch or self.noise_cov is None:
            return 0, self.d, None
        if self.noise_cov is getattr(self.problem, "noise_cov", None):
            F = self.problem.noise_factor  # a quadratic's: factored once per problem, not per run
        else:
            F = psd_sqrt(self.noise_cov)
        return 1, self.d, F / np.sqrt(self.params["batch_size"])

    def batch_rows(self) -> int:
        """Rows per minibatch drawn each step (0: the scheme samples no rows)."""
        if self.minibatch and isinstance(self.problem, LinearRegressionProblem):
            return self.params["batch_size"]
        return 0

    def init_state(self, theta: np.ndarray, v: np.ndarray) -> dict[str, np.ndarray]:
        """Extra per-path state arrays besides theta and v (e.g. Adam's second moment)."""
        return {}

    @property
    def capped(self) -> bool:
        """Whether the energy cap of seed 000 eq. 7 is on (its engagements are recorded)."""
        return False

    def recorded_inv_mass(self) -> np.ndarray:
        """Inverse mass of the recorded kinetic energy, shape (d,)."""
        return np.ones(self.d)

    def workspace(self, M: int) -> tuple:
        """Work arrays of the kernel, allocated once per run (default: the gradients)."""
        return (np.empty((M, self.d)),)

    @abstractmethod
    def advance(
        self, loss, draws, rec, theta, v, state, work, k0: int, n: int, i0: int, i1: int
    ) -> None:
        """Advance the paths ``i0 <= i < i1`` from step ``k0`` to ``k0 + n`` in place.

        Runs in a worker thread (the kernels release the GIL); blocks of paths never overlap.
        """

    # -- stability on a quadratic ---------------------------------------------------------

    def curvatures(self) -> np.ndarray:
        """The modes' curvatures K: eigenvalues of ``H + weight_decay I`` (with a mass, of
        ``M^-1/2 (H + weight_decay I) M^-1/2``)."""
        wd = self.params.get("weight_decay", 0.0)
        if "inv_mass" not in self.params:
            if isinstance(self.problem, QuadraticProblem):
                return self.problem.spectrum[0] + wd  # cached on the problem
            return np.linalg.eigvalsh(self.problem.H) + wd
        s = np.sqrt(self.params["inv_mass"])
        return np.linalg.eigvalsh(s[:, None] * (self.problem.H + wd * np.eye(self.d)) * s)

    def step_matrices(self, K: np.ndarray) -> np.ndarray | None:
        """The one-step maps ``(len(K), 2, 2)`` on ``(theta, v)`` of modes of curvature ``K``
        (see ``linear_step``); None when the scheme declares no linear condition."""
        return _step_matrices(self, np.asarray(K, dtype=np.float64))

    def check_stability(self, n_steps: int) -> None:
        """Refuse a run that its own step map would blow up on this quadratic.

        The spectral radius r of the step map over every mode bounds the growth of the mean and
        of the noise: ``r^n_steps``. Beyond ``config.RUN_GROWTH_MAX`` the run would record the
        instability (values up to the float limit), not the dynamics.

        Raises
        ------
        StabilityRegionError
            Naming the step size (``lr`` or ``dt``), the worst mode and the growth.
        """
        K = self.curvatures()
        M = self.step_matrices(K)
        if M is None:
            return
        r = np.max(np.abs(np.linalg.eigvals(M)), axis=1)
        i = int(np.argmax(r))
        log10_growth = n_steps * np.log10(r[i])
        if log10_growth > np.log10(config.RUN_GROWTH_MAX):
            step = "dt" if "dt" in self.params else "lr"
            raise StabilityRegionError(
                f"scheme {self.name!r} is unstable here: {step} = {self.params[step]:.6g} gives "
                f"its step map spectral radius {r[i]:.6g} > 1 at curvature {K[i]:.6g}, a growth "
                f"of 1e{log10_growth:.0f} over {n_steps} steps; reduce {step}"
            )

    # -- shared validators ----------------------------------------------------------------

    def _heavy_ball(self, values: dict) -> HeavyBall:
        """The :class:`~dynlab.hyper.HeavyBall` of the values a scheme takes (others default).

        Validates lr, momentum, weight_decay and batch_size once, with the batch size also
        checked against a linear regression's number of rows.
        """
        names = ("lr", "momentum", "weight_decay", "batch_size")
        hp = HeavyBall(**{k: values[k] for k in names if k in values})
        if "batch_size" in values:
            self._batch_size(hp.batch_size)
        return hp

    def _batch_size(self, value) -> int:
        S = HeavyBall(1.0, batch_size=value).batch_size
        if (
            isinstance(self.problem, LinearRegressionProblem)
            and self.minibatch
            and S > self.problem.N
        ):
            raise HyperparameterError(
                f"batch_size must be <= the number of rows N = {self.problem.N}; got {S}"
            )
        return S

    def _inv_mass(self, value) -> np.ndarray:
        m = as_array(value, "inv_mass")
        if m.ndim == 0:
            m = np.full(self.d, float(m))
        if m.shape != (self.d,):
            raise ShapeError(f"inv_mass must be a scalar or have shape ({self.d},); got {m.shape}")
        if np.any(m <= 0.0):
            raise HyperparameterError("inv_mass must be positive")
        return np.ascontiguousarray(m)


def _step_matrices(scheme: Scheme, K: np.ndarray) -> np.ndarray | None:
    kind, p = scheme.linear_step, scheme.params
    one, zero = np.ones_like(K), np.zeros_like(K)

    def mats(a, b, c, d):
        return np.stack([np.stack([a, b], -1), np.stack([c, d], -1)], -2)

    if kind is None:
        return None
    if kind in ("momentum", "nesterov"):
        lr, beta = p["lr"], p.get("momentum", 0.0)
        if kind == "momentum":  # v' = beta v - K theta, theta' = theta + lr v'
            return mats(1.0 - lr * K, lr * beta * one, -K, beta * one)
        # v = -buf: v' = beta v - K theta, theta' = theta - lr K theta + lr beta v'
        return mats(1.0 - lr * K * (1.0 + beta), lr * beta * beta * one, -K, beta * one)
    h = p["dt"]
    c1 = scheme.c1 if scheme.kind == "sde" else 1.0
    friction = scheme.c2 if scheme.kind == "sde" else p.get("friction", 0.0)
    A = mats(zero, one, -c1 * K, -friction * one)
    eye = mats(one, zero, zero, one)
    if kind == "euler":
        return eye + h * A
    if kind == "rk4":
        out, term = eye.copy(), eye
        for j in range(1, 5):
            term = term @ (h * A) / j
            out = out + term
        return out
    if kind == "midpoint":
        return np.linalg.solve(eye - 0.5 * h * A, eye + 0.5 * h * A)
    out = eye
    for op, frac in zip(scheme._ops, scheme._fracs):
        f = frac * h
        step = (  # ops 0, 1, 2: drift, kick, friction (dynlab.integrators._splitting)
            mats(one, f * one, zero, one),
            mats(one, zero, -f * c1 * K, one),
            mats(one, zero, zero, np.exp(-friction * f) * one),
        )[op]
        out = step @ out
    return out


def positive(value, name: str) -> float:
    """A finite float > 0."""
    return as_scalar(value, name, low=0.0, low_open=True)


def nonnegative(value, name: str) -> float:
    """A finite float >= 0."""
    return as_scalar(value, name, low=0.0)


def unit_interval(value, name: str) -> float:
    """A finite float in [0, 1)."""
    return as_scalar(value, name, low=0.0, high=1.0, high_open=True)
