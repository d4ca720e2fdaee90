"""The zoo's public names, imported by :mod:`dynlab.integrators` on first use (numba with them).

The package's ``__all__`` lists them; it is not repeated here, hence the ``noqa: F401``.
"""

from ._base import REQUIRED, SCHEMES, Scheme  # noqa: F401
from ._exact import ExactOU  # noqa: F401
from ._families import HamiltonianScheme, LangevinScheme, layer_inv_mass  # noqa: F401
from ._optimizers import GD, SGD, Adam, AdamW, HeavyBall, Nesterov  # noqa: F401
from ._run import Record, Recording, normals_shape, run  # noqa: F401
from ._runge_kutta import RK4, EulerMaruyama, ExplicitEuler  # noqa: F401

# isort: split
# imported after the Runge-Kutta family so that SCHEMES keeps its order of registration
from ._midpoint import ImplicitMidpoint  # noqa: F401
from ._splitting import BAOAB, OBABO, DampedLeapfrog, Leapfrog, SymplecticEuler  # noqa: F401
