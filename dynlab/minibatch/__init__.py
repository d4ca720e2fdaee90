"""Exact moments of the minibatch SGD people run: finite data, sampling with and without
replacement, reshuffled epochs, multiplicative noise, heavy ball with weight decay.

* :class:`FiniteData` -- the data set, H, theta*, residual gradients, fourth moments.
* :class:`MinibatchSGD` -- independent batches: exact moments, stationary solve, observables,
  the mean-square spectral radius.
* :class:`Reshuffle` -- random reshuffling: additive and hybrid epoch maps, exact epochs by a
  recursion over subsets, and Yaida's relation as a reshuffling detector.
* :func:`max_stable_lr`, :func:`stability_map`, :func:`noise_sharpness`,
  :func:`crossover_batch_size` -- the mean-square stability edge and its two plateaus.
"""

from .data import FiniteData
from .independent import SAMPLINGS, MinibatchSGD, batch_factor
from .reshuffle import FDRPrediction, Reshuffle, reshuffle_fdr_violation
from .stability import crossover_batch_size, max_stable_lr, noise_sharpness, stability_map

__all__ = [
    "FiniteData",
    "MinibatchSGD",
    "SAMPLINGS",
    "batch_factor",
    "max_stable_lr",
    "stability_map",
    "noise_sharpness",
    "crossover_batch_size",
    "Reshuffle",
    "FDRPrediction",
    "reshuffle_fdr_violation",
]
