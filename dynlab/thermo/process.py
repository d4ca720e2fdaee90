r"""The scale-invariant SGD process and its thermodynamic variables (T, p, V, N, U, S, F, G).

The three protocols of Sadrtdinov et al. 2025, arXiv:2511.07308, "Isotropic noise model
experiments", in the SDE limit and with the O(lr) corrections of the discrete radius and
pressure maps (derivations in docs/thermo.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_positive_int, as_scalar
from ..errors import HyperparameterError, ShapeError
from .gibbs import VonMisesFisherGibbs

__all__ = ["PROTOCOLS", "ScaleInvariantSGD"]

PROTOCOLS = ("sphere", "elr", "lr")


@dataclass(frozen=True)
class ScaleInvariantSGD:
    r"""SGD with weight decay on a scale-invariant loss in R^d, isotropic noise model.

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
        r"""Temperature :math:`T = \tilde\eta\sigma^2/2`.

        For "lr" :math:`T = \sqrt{\eta\lambda\sigma^2/(2(d-1))}`.
        """
        if self.protocol == "lr":
            return float(np.sqrt(self.lr * self.weight_decay * self.sigma2 / (2.0 * (self.d - 1))))
        return 0.5 * self.lr * self.sigma2

    @property
    def volume(self) -> float:
        """V = r^2 / 2."""
        return 0.5 * self.r**2

    @property
    def pressure(self) -> float:
        r"""p = weight_decay ("elr", "lr"), :math:`(d-1)T/r^2` ("sphere"): so that pV = NT.

        Examples
        --------
        The ideal-gas equation of state ``pV = NT`` in each protocol:

        >>> ok = [
        ...     np.isclose(p.pressure * p.volume, p.n_dof * p.temperature)
        ...     for p in [
        ...         ScaleInvariantSGD(10, "sphere", 1e-3, 50.0, radius=0.7),
        ...         ScaleInvariantSGD(10, "elr", 1e-3, 50.0, weight_decay=0.9),
        ...         ScaleInvariantSGD(10, "lr", 1e-3, 50.0, weight_decay=0.9),
        ...     ]
        ... ]
        >>> all(ok)
        True
        """
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
        r"""Root-mean-square stationary radius :math:`\sqrt{E r^2}` of the discrete process.

        Exact to O(lr).

        With :math:`G = E|\nabla_S L|^2` (squared gradient on the unit sphere under the
        stationary direction law), :math:`D = \sigma^2(d-1) + G`, the one-step maps of
        :math:`x = r^2` have the deterministic fixed points

        * "elr": :math:`x' = x(1-\tilde\eta\lambda x)^2
          + \tilde\eta^2 x(\sigma^2\chi^2_{d-1} + |\nabla_S L|^2)`,
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
        r"""Pressure of the discrete "sphere" protocol, exactly.

        :math:`p = [(d-1)T + \tilde\eta G/2]/r^2`.

        :math:`E[\|w'\|^2 - r^2] = \tilde\eta^2 r^2 (\sigma^2 (d-1) + G)` for the pre-projection
        point w'; divided by :math:`2\tilde\eta r^4` (the SDE's outward drift of r^2 per unit
        time, over r^2). Other protocols: weight_decay.
        """
        G = as_scalar(grad_sq, "grad_sq", low=0.0, error=ShapeError)
        if self.protocol != "sphere":
            return float(self.weight_decay)
        return (2.0 * self.n_dof * self.temperature + 0.5 * self.lr * G) / self.radius**2
