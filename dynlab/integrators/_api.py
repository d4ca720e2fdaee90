"""The zoo's public names, imported by :mod:`dynlab.integrators` on first use (numba with them)."""

from ._base import REQUIRED, SCHEMES, Scheme
from ._exact import ExactOU
from ._families import HamiltonianScheme, LangevinScheme, layer_inv_mass
from ._optimizers import GD, SGD, Adam, AdamW, HeavyBall, Nesterov
from ._run import Record, Recording, normals_shape, run
from ._runge_kutta import RK4, EulerMaruyama, ExplicitEuler

# isort: split
# imported after the Runge-Kutta family so that SCHEMES keeps its order of registration
from ._midpoint import ImplicitMidpoint
from ._splitting import BAOAB, OBABO, DampedLeapfrog, Leapfrog, SymplecticEuler

__all__ = [
    "run",
    "normals_shape",
    "SCHEMES",
    "Scheme",
    "HamiltonianScheme",
    "LangevinScheme",
    "REQUIRED",
    "Record",
    "Recording",
    "layer_inv_mass",
    "GD",
    "SGD",
    "HeavyBall",
    "Nesterov",
    "Adam",
    "AdamW",
    "Leapfrog",
    "DampedLeapfrog",
    "SymplecticEuler",
    "ExplicitEuler",
    "RK4",
    "ImplicitMidpoint",
    "EulerMaruyama",
    "BAOAB",
    "OBABO",
    "ExactOU",
]
