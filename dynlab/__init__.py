"""dynlab: exact predictions for the training dynamics of SGD on linear and quadratic models.

Submodules (import the one you need; nothing heavy is imported here):

* :mod:`dynlab.ou` -- the general Ornstein-Uhlenbeck process and the SGD phase-space model.
* :mod:`dynlab.models` -- quadratic and linear-regression problems, the embedded dataset.
* :mod:`dynlab.integrators` -- the numba integrator zoo (ensembles of trajectories).
* :mod:`dynlab.observables` -- displacement, speed, diffusion exponents, energy drift, spectra.
* :mod:`dynlab.symmetry`, :mod:`dynlab.thermo` -- neural mechanics and scale-invariant
  thermodynamics.
* :mod:`dynlab.hyper` -- :class:`~dynlab.hyper.HeavyBall`, the one validated set of heavy-ball
  hyperparameters and the constants derived from them.
* :mod:`dynlab.minibatch` -- exact moments of finite-data minibatch SGD (sampling with and
  without replacement, reshuffled epochs) and its mean-square stability edge.
* :mod:`dynlab.stats` -- time averages with standard errors from the integrated
  autocorrelation time or from independent paths.
* :mod:`dynlab.stationarity` -- Yaida's fluctuation-dissipation relation on a recorded
  trajectory: stationarity without a Hessian.
* :mod:`dynlab.traces` -- SGD observables from Hessian eigenvalues and noise traces, without a
  full H.
* :mod:`dynlab.energy_band` -- the stationary energy drift's log-log slope up to leapfrog's
  stability limit, and its negative (anti-dissipative) band.

dynlab never imports torch; the GPU bridge lives in ``validation.resnet_bridge``.
"""

__version__ = "0.1.0"
