r"""The multivariate Ornstein-Uhlenbeck process and SGD with momentum as one (public entry point).

* :class:`OUProcess` -- ``dX = -A (X - mu) dt + sqrt(2 D / kappa) dW`` with every moment exact
  (Kunin et al. 2021, arXiv:2107.09133, sec. 5-6, app. D-E); defined in :mod:`dynlab.ou_process`.
* :class:`SGDPhaseSpace` -- heavy-ball SGD on a quadratic as such a process and as its exact
  discrete recursion; defined in :mod:`dynlab.sgd`.

Both import from their own modules; this module only gathers them, so that
``from dynlab.ou import OUProcess, SGDPhaseSpace`` is the one line a user needs.
"""

from .ou_process import OUProcess
from .sgd import SGDPhaseSpace

__all__ = ["OUProcess", "SGDPhaseSpace"]
