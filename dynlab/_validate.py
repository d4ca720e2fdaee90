"""Input validation shared by every public entry point.

Each helper returns a float64 array (or Python scalar) and raises a :mod:`dynlab.errors`
exception that names the argument and what is wrong with it.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from . import config
from ._linalg import sym
from .errors import (
    ArgumentTypeError,
    ConditioningWarning,
    DynlabWarning,
    HyperparameterError,
    NonFiniteError,
    NotPositiveDefiniteError,
    NotSymmetricError,
    ShapeError,
)


def as_array(x, name: str, *, ndim: int | None = None, shape: tuple | None = None) -> np.ndarray:
    """Return ``x`` as a finite float64 array, checking its dimensions and shape.

    ``shape`` may hold ``None`` for a free axis. Complex input is refused, never truncated to
    its real part.
    """
    if np.iscomplexobj(x) or isinstance(x, complex):
        raise ArgumentTypeError(f"{name} must be real; got complex values")
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"{name} must be a real numeric array; got {type(x).__name__}") from exc
    if ndim is not None and a.ndim != ndim:
        raise ShapeError(f"{name} must have {ndim} dimension(s); got shape {a.shape}")
    if shape is not None:
        if a.ndim != len(shape) or any(s is not None and s != t for s, t in zip(shape, a.shape)):
            want = tuple("*" if s is None else s for s in shape)
            raise ShapeError(f"{name} must have shape {want}; got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise NonFiniteError(f"{name} contains NaN or infinity")
    return a


def as_square(x, name: str, n: int | None = None) -> np.ndarray:
    """Return ``x`` as a finite float64 square matrix (of order ``n`` if given)."""
    a = as_array(x, name, ndim=2)
    if a.shape[0] != a.shape[1]:
        raise ShapeError(f"{name} must be square; got shape {a.shape}")
    if a.shape[0] == 0:
        raise ShapeError(f"{name} must be at least 1 x 1; got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise ShapeError(f"{name} must be {n} x {n}; got shape {a.shape}")
    return a


def as_symmetric(x, name: str, n: int | None = None) -> np.ndarray:
    """Return the symmetric part of ``x`` after checking that ``x`` is symmetric to rounding.

    The test is relative: ``||x - x^T||_max <= SYMMETRY_RTOL * ||x||_max``.
    """
    a = as_square(x, name, n)
    scale = np.max(np.abs(a)) if a.size else 0.0
    asym = np.max(np.abs(a - a.T)) if a.size else 0.0
    if asym > config.SYMMETRY_RTOL * scale:
        raise NotSymmetricError(
            f"{name} must be symmetric; max |{name} - {name}^T| = {asym:.3g} "
            f"relative to max |{name}| = {scale:.3g}"
        )
    return sym(a)


def as_psd(x, name: str, n: int | None = None, *, definite: bool = False) -> np.ndarray:
    """Return ``x`` as a symmetric positive semi-definite (or definite) matrix.

    Semi-definite: smallest eigenvalue >= -PSD_RTOL * ||x||_1 (a bound on its largest |eigenvalue|);
    accepted at once when a Cholesky factorisation of ``x + PSD_RTOL ||x||_1 I`` succeeds (a third
    of the cost of an eigenvalue solve), else decided by the eigenvalues.
    Definite: smallest eigenvalue > PSD_RTOL * largest |eigenvalue|.
    """
    a = as_symmetric(x, name, n)
    if a.size == 0:
        return a
    if not definite:
        shift = config.PSD_RTOL * max(np.linalg.norm(a, 1), np.finfo(np.float64).tiny)
        try:
            np.linalg.cholesky(a + shift * np.eye(a.shape[0]))
            return a
        except np.linalg.LinAlgError:
            pass
    w = np.linalg.eigvalsh(a)
    scale = max(np.max(np.abs(w)), np.finfo(np.float64).tiny)
    if definite and w[0] <= config.PSD_RTOL * scale:
        raise NotPositiveDefiniteError(
            f"{name} must be positive definite; its smallest eigenvalue is {w[0]:.3g} "
            f"(largest {w[-1]:.3g})"
        )
    if w[0] < -config.PSD_RTOL * np.linalg.norm(a, 1):
        raise NotPositiveDefiniteError(
            f"{name} must be positive semi-definite; it has eigenvalue {w[0]:.3g} "
            f"(largest |eigenvalue| {scale:.3g})"
        )
    return a


def as_scalar(
    x,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    error: type[Exception] = HyperparameterError,
) -> float:
    """Return ``x`` as a finite Python float inside the given interval."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (numbers.Real, np.ndarray)):
        raise error(f"{name} must be a real number; got {x!r}")
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 0:
        raise error(f"{name} must be a scalar; got shape {a.shape}")
    v = float(a)
    if not np.isfinite(v):
        raise error(f"{name} must be finite; got {v}")
    if low is not None and (v < low or (low_open and v == low)):
        raise error(f"{name} must be {'>' if low_open else '>='} {low}; got {v}")
    if high is not None and (v > high or (high_open and v == high)):
        raise error(f"{name} must be {'<' if high_open else '<='} {high}; got {v}")
    return v


def as_int(
    x, name: str, *, low: int | None = None, error: type[Exception] = ArgumentTypeError
) -> int:
    """Return ``x`` as a Python int >= ``low``; floats (even 2.0) and bools are refused.

    A count of steps or samples is an integer: ``2.7`` is an error, never silently ``2``.
    """
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Integral):
        raise error(f"{name} must be an integer; got {x!r} ({type(x).__name__})")
    if low is not None and x < low:
        raise error(f"{name} must be >= {low}; got {x}")
    return int(x)


def as_int_array(
    x, name: str, *, low: int | None = None, error: type[Exception] = ArgumentTypeError
) -> np.ndarray:
    """Return ``x`` as an int64 array with entries >= ``low``: :func:`as_int` for arrays.

    Only integer input counts (Python ints or an integer-dtype array): ``2.7`` and ``2.0`` are
    refused, as are bools, never rounded.
    """
    if isinstance(x, (bool, np.bool_)):
        raise error(f"{name} must hold integers; got {x!r}")
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise error(f"{name} must hold integers; got {type(x).__name__}") from exc
    if a.dtype.kind not in "iu":
        raise error(f"{name} must hold integers; got {x!r} (dtype {a.dtype})")
    if low is not None and np.any(a < low):
        raise error(f"{name} must be >= {low}; got {x!r}")
    return a.astype(np.int64)


def as_positive_int(x, name: str, error: type[Exception] = HyperparameterError) -> int:
    """Return ``x`` as a Python int >= 1."""
    return as_int(x, name, low=1, error=error)


def as_flag(x, name: str) -> bool:
    """Return ``x`` as a bool; only ``True``/``False`` (Python or numpy) are flags.

    ``exact="no"`` would be truthy; it is refused instead of being read as True.
    """
    if not isinstance(x, (bool, np.bool_)):
        raise ArgumentTypeError(f"{name} must be True or False; got {x!r}")
    return bool(x)


def as_seed_sequence(seed, name: str = "seed") -> np.random.SeedSequence:
    """Return a SeedSequence from ``int >= 0 | numpy.random.Generator | SeedSequence | None``.

    A Generator is consumed as numpy's own ``spawn`` does: its SeedSequence spawns a child, so
    the same Generator state gives the same streams.
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return seed.bit_generator.seed_seq.spawn(1)[0]
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise ArgumentTypeError(
            f"{name} must be an int >= 0, a numpy Generator, a SeedSequence or None; got {seed!r}"
        )
    if seed < 0:
        raise ArgumentTypeError(f"{name} must be >= 0 (numpy seeds are non-negative); got {seed}")
    return np.random.SeedSequence(int(seed))


def as_rng(seed, name: str = "seed") -> np.random.Generator:
    """Return a numpy Generator from ``int >= 0 | Generator | SeedSequence | None``.

    A Generator is used as is (its stream continues); anything else goes through
    :func:`as_seed_sequence`.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(as_seed_sequence(seed, name))


def definite_spectrum(lo, hi, n: int):
    """Whether eigenvalues in ``[lo, hi]`` (arrays broadcast) are told apart from a singular matrix:
    ``lo > n eps hi``, eigh's backward error (the test of :func:`check_definite_spectrum`)."""
    return lo > n * config.EPS * np.maximum(hi, np.finfo(np.float64).tiny)


def check_definite_spectrum(
    lo: float, hi: float, n: int, name: str, error: type[Exception], fix: str = ""
) -> None:
    """Refuse a symmetric matrix of order ``n`` with eigenvalues in ``[lo, hi]`` as singular, or
    warn when it is definite but ill-conditioned.

    Singular means ``lo <= n eps hi``: eigh's backward error is about ``n eps ||M||``, so such a
    smallest eigenvalue cannot be told from zero (or its sign) in float64. Above that bound the
    problem is well posed and is solved; a condition number ``hi / lo >= CONDITION_WARN`` gives a
    :class:`~dynlab.errors.ConditioningWarning`.
    """
    if not definite_spectrum(lo, hi, n):
        raise error(
            f"{name} is singular: smallest eigenvalue {lo:.3g} <= n eps x largest ({hi:.3g}, "
            f"n = {n}), indistinguishable from zero in float64{fix}"
        )
    if hi / lo >= config.CONDITION_WARN:
        warnings.warn(
            f"{name} is ill-conditioned (condition number {hi / lo:.3g}): results lose about "
            f"{np.log10(hi / lo):.0f} of 16 digits",
            ConditioningWarning,
            stacklevel=3,
        )


def _unit_arguments(method: str, args: tuple, values: dict, unit: str, need: str) -> dict:
    """Fill ``values`` (the method's argument names in their former positional order, ``unit``
    first) from positional ``args``, with a deprecation warning, and require ``unit``."""
    names = list(values)
    if len(args) > len(names):
        raise ArgumentTypeError(f"{method} takes at most {len(names)} positional arguments")
    if args:
        if values[unit] is not None:
            raise ArgumentTypeError(f"{method}: {unit} given twice (positionally and as {unit}=)")
        warnings.warn(
            f"{method}: pass {unit}= ({need}) by keyword; positional arguments are deprecated",
            DynlabWarning,
            stacklevel=4,
        )
        values = {**values, **dict(zip(names, args))}
    if values[unit] is None:
        raise ArgumentTypeError(f"{method} needs {unit}= ({need})")
    return values


def steps_arguments(method: str, args: tuple, values: dict, *, k=None, time=None) -> dict:
    """The arguments of a method of the discrete model, whose count is ``steps=`` by keyword.

    ``values`` maps the method's argument names, in their former positional order (``steps``
    first), to what was passed by keyword. Positional arguments fill them in that order with a
    deprecation :class:`~dynlab.errors.DynlabWarning`; ``k=`` (which did not say whether it is a
    step count or an SDE time) and ``time=`` are refused with the keyword to use.
    """
    if k is not None:
        raise ArgumentTypeError(
            f"{method}: k= is ambiguous; pass steps= (a number of optimizer steps; the SDE time "
            "is lr * steps)"
        )
    if time is not None:
        raise ArgumentTypeError(
            f"{method} counts optimizer steps: pass steps= (steps = time / lr), or use the SDE "
            "model SGDPhaseSpace.ou, whose methods take time="
        )
    return _unit_arguments(method, args, values, "steps", "a number of optimizer steps")


def time_arguments(
    method: str, args: tuple, values: dict, *, steps=None, former: dict | None = None
) -> dict:
    """The arguments of a method of the Ornstein-Uhlenbeck process, whose time is ``time=``.

    The mirror of :func:`steps_arguments` for the SDE: ``values`` maps the argument names, in
    their former positional order (``time`` first), to what was passed by keyword; positional
    arguments fill them with a deprecation :class:`~dynlab.errors.DynlabWarning`. ``steps=`` is
    refused (the process runs in SDE time ``t = lr k``), and so is each former keyword in
    ``former`` (``{old name: (value passed, new name)}``), with the keyword to use.
    """
    if steps is not None:
        raise ArgumentTypeError(
            f"{method} runs in SDE time t = lr k, not in optimizer steps: pass time= "
            "(time = lr * steps), or use the model's exact recursion .discrete, whose methods "
            "take steps="
        )
    for old, (value, new) in (former or {}).items():
        if value is not None:
            raise ArgumentTypeError(
                f"{method}: {old}= no longer says its unit; pass {new}= (an SDE time, "
                "t = lr k for SGD)"
            )
    return _unit_arguments(method, args, values, "time", "an SDE time")
