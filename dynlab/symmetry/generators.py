r"""Symmetry generators and their charges (Kunin et al. 2021, arXiv:2012.04728, section 3).

A one-parameter symmetry of the loss has an affine generator ``X(theta) = c + s * theta``
for the three symmetries of that paper (translation, scale, rescale); this module holds the
generator, the charge it conserves under gradient flow, the drive that breaks it, and the
residuals of the gradient and Hessian constraints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError

__all__ = ["KINDS", "Symmetry"]

KINDS = ("translation", "scale", "rescale")


# ----------------------------------------------------------------------------------------------
# Symmetries
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Symmetry:
    r"""A one-parameter symmetry with affine generator :math:`X(\theta) = c + s \odot \theta`.

    Build one with :meth:`translation`, :meth:`scale` or :meth:`rescale`.

    Attributes
    ----------
    kind : {"translation", "scale", "rescale"}
    name : str
        Which parameters it acts on (e.g. ``"row 2"``).
    c, s : (P,) ndarray
        Constant and diagonal-linear parts of the generator.
    """

    kind: str
    name: str
    c: np.ndarray
    s: np.ndarray

    @classmethod
    def translation(cls, n_params: int, idx, name: str = "") -> "Symmetry":
        """``theta_A -> theta_A + alpha 1``: generator ``1_A``, charge ``<theta_A, 1>``."""
        c = np.zeros(n_params)
        c[np.asarray(idx)] = 1.0
        return cls("translation", name, c, np.zeros(n_params))

    @classmethod
    def scale(cls, n_params: int, idx, name: str = "") -> "Symmetry":
        """``theta_A -> alpha theta_A``: generator ``theta_A``, charge ``|theta_A|^2``."""
        s = np.zeros(n_params)
        s[np.asarray(idx)] = 1.0
        return cls("scale", name, np.zeros(n_params), s)

    @classmethod
    def rescale(cls, n_params: int, idx1, idx2, name: str = "") -> "Symmetry":
        """``(theta_1, theta_2) -> (alpha theta_1, theta_2 / alpha)``.

        Charge ``|theta_1|^2 - |theta_2|^2``.
        """
        s = np.zeros(n_params)
        s[np.asarray(idx1)] = 1.0
        s[np.asarray(idx2)] = -1.0
        return cls("rescale", name, np.zeros(n_params), s)

    @property
    def quadratic(self) -> bool:
        """True for scale and rescale (charge quadratic in theta), False for translation."""
        return self.kind != "translation"

    def generator(self, theta) -> np.ndarray:
        """The vector field ``X(theta) = c + s * theta``; ``theta`` of shape ``(..., P)``."""
        return self.c + self.s * np.asarray(theta)

    def charge(self, theta) -> np.ndarray:
        """The conserved quantity of gradient flow, ``<c, theta> + <s, theta^2>`` (Noether)."""
        theta = np.asarray(theta)
        return theta @ self.c + (theta * theta) @ self.s

    def drive(self, x) -> np.ndarray:
        """``<s, x^2>``: the squared norm of ``x`` along the symmetry (gradient or velocity).

        For scale ``|x_A|^2``, for rescale ``|x_1|^2 - |x_2|^2``; zero for translation.
        """
        x = np.asarray(x)
        return (x * x) @ self.s

    def momentum(self, theta, v) -> np.ndarray:
        """The charge's velocity: ``<c, v>`` (translation) or ``<s, theta v>`` (scale, rescale)."""
        theta, v = np.asarray(theta), np.asarray(v)
        return v @ self.c + (theta * v) @ self.s

    def gradient_residual(self, theta, grad) -> np.ndarray:
        """``<g, X(theta)>``, zero for a symmetric loss (Kunin et al. 2021, gradient constraint)."""
        return np.sum(np.asarray(grad) * self.generator(theta), axis=-1)

    def hessian_residual(self, grad, hessian_times_generator) -> np.ndarray:
        """``H X(theta) + J_X^T g = H X + s * g``, zero for a symmetric loss (Hessian constraint).

        For scale this is Kunin et al.'s ``H theta_A = -g_A``, for rescale
        ``H (theta_1 - theta_2) + g_1 - g_2 = 0``, for translation ``H 1_A = 0``.
        """
        return np.asarray(hessian_times_generator) + self.s * np.asarray(grad)


def _kind(symmetry) -> str:
    kind = symmetry.kind if isinstance(symmetry, Symmetry) else symmetry
    if kind not in KINDS:
        raise ShapeError(f"symmetry must be a Symmetry or one of {KINDS}; got {symmetry!r}")
    return kind
