"""The integrator zoo: numba kernels advancing ensembles of SGD trajectories and their models.

One entry point, :func:`run`, and one registry, :data:`SCHEMES` (name -> :class:`Scheme`
subclass with its declared properties). ``docs/integrators.md`` lists every scheme with its
order, properties and the test that proves them::

    from dynlab.integrators import run, Recording, SCHEMES
    rec = run("heavy_ball", problem, n_paths=1000, n_steps=10_000, seed=0,
              lr=0.1, momentum=0.9, batch_size=8, record=Recording(every=10, basis=q[:, :2]))
    rec.mean("Delta2"), rec.sem("Delta2")

Compiled kernels are cached on disk in a folder keyed by a hash of dynlab's sources
(:mod:`dynlab.integrators._cache`), so an edited helper can never leave a stale kernel.
"""

from ._cache import salt_numba_cache

# before any kernel is decorated: numba fixes each kernel's cache folder at decoration
salt_numba_cache()

from ._base import REQUIRED, SCHEMES, Scheme  # noqa: E402
from ._exact import ExactOU  # noqa: E402
from ._families import HamiltonianScheme, LangevinScheme, layer_inv_mass  # noqa: E402
from ._optimizers import GD, SGD, Adam, AdamW, HeavyBall, Nesterov  # noqa: E402
from ._run import Record, Recording, normals_shape, run  # noqa: E402
from ._runge_kutta import RK4, EulerMaruyama, ExplicitEuler  # noqa: E402

# isort: split
# imported after the Runge-Kutta family so that SCHEMES keeps its order of registration
from ._midpoint import ImplicitMidpoint  # noqa: E402
from ._splitting import BAOAB, OBABO, DampedLeapfrog, Leapfrog, SymplecticEuler  # noqa: E402

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
