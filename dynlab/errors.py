"""Exceptions raised by dynlab.

Every error names the offending argument and the property it lacks. All derive from
:class:`DynlabError` and from :class:`ValueError`, so ``except ValueError`` keeps working.
"""


class DynlabError(ValueError):
    """Base class of dynlab's input and model errors."""


class ArgumentTypeError(DynlabError):
    """An argument has the wrong kind: a float where an integer count is needed, a non-bool
    flag, complex input to a real routine, a seed numpy cannot use."""


class ShapeError(DynlabError):
    """An array has the wrong number of dimensions or the wrong shape."""


class NonFiniteError(DynlabError):
    """An array holds NaN or infinity."""


class NotSymmetricError(DynlabError):
    """A matrix that must be symmetric is not, beyond rounding."""


class NotPositiveDefiniteError(DynlabError):
    """A matrix that must be positive (semi-)definite has a negative eigenvalue."""


class HyperparameterError(DynlabError):
    """An optimizer hyperparameter is outside its domain (lr <= 0, momentum >= 1, ...)."""


class UnstableDriftError(DynlabError):
    """The drift matrix A has an eigenvalue with non-positive real part: no stationary law."""


class NotControllableError(DynlabError):
    """The Lyapunov solution B is singular: the noise does not reach every direction."""


class StabilityRegionError(DynlabError):
    """A discrete recursion has spectral radius >= 1 (e.g. lr beyond the stability limit)."""


class DynlabWarning(UserWarning):
    """Base class of dynlab's warnings: the result is computed, but read it with care."""


class ConditioningWarning(DynlabWarning):
    """A matrix is positive definite but ill-conditioned: results lose about log10(cond) digits."""
