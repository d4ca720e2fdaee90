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

``import dynlab.integrators`` is light: numba and the kernel modules are imported at the first
use of a public name (``from dynlab.integrators import run`` included), and each kernel is
compiled, or loaded from the cache, at its first call.
"""

import importlib

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


def __getattr__(name: str):
    if name in __all__:
        api = importlib.import_module("._api", __name__)
        globals().update({n: getattr(api, n) for n in __all__})
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
