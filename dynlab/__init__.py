"""dynlab: exact predictions for the training dynamics of SGD on linear and quadratic models.

Submodules (import the one you need; nothing heavy is imported here):

* :mod:`dynlab.ou` -- the general Ornstein-Uhlenbeck process and the SGD phase-space model.
* :mod:`dynlab.models` -- quadratic and linear-regression problems, the embedded dataset.
* :mod:`dynlab.integrators` -- the numba integrator zoo (ensembles of trajectories).
* :mod:`dynlab.observables` -- displacement, speed, diffusion exponents, energy drift, spectra.
* :mod:`dynlab.symmetry`, :mod:`dynlab.thermo` -- neural mechanics and scale-invariant thermodynamics.

dynlab never imports torch; the GPU bridge lives in ``validation.resnet_bridge``.
"""

__version__ = "0.1.0"
