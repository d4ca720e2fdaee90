"""Exact moments of the minibatch SGD people run: finite data, sampling with and without
replacement, reshuffled epochs, multiplicative noise, heavy ball with weight decay.

* :class:`FiniteData` -- the data set, H, theta*, residual gradients, fourth moments.
* :class:`MinibatchSGD` -- independent batches: exact moments, stationary solve, observables,
  the mean-square stability edge.
"""

from .data import FiniteData
from .independent import SAMPLINGS, MinibatchSGD, batch_factor

__all__ = ["FiniteData", "MinibatchSGD", "SAMPLINGS", "batch_factor"]
