"""The integrator zoo: numba kernels advancing ensembles of SGD trajectories and their models.

One entry point, :func:`run`, and one registry, :data:`SCHEMES` (name -> :class:`Scheme`
subclass with its declared properties). ``docs/integrators.md`` lists every scheme with its
order, properties and the test that proves them::

    from dynlab.integrators import run, Recording, SCHEMES
    rec = run("heavy_ball", problem, n_paths=1000, n_steps=10_000, seed=0,
              lr=0.1, momentum=0.9, batch_size=8, record=Recording(every=10, basis=q[:, :2]))
    rec.mean("Delta2"), rec.sem("Delta2")
"""

from ._base import REQUIRED, SCHEMES, Scheme
from ._exact import ExactOU
from ._families import HamiltonianScheme, LangevinScheme, layer_inv_mass
from ._optimizers import GD, SGD, Adam, AdamW, HeavyBall, Nesterov
from ._run import Record, Recording, normals_shape, run
from ._runge_kutta import RK4, EulerMaruyama, ExplicitEuler, ImplicitMidpoint
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
