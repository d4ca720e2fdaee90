"""Structure of the gradient noise at theta*: ``q_i^T Sigma q_i`` from minibatch gradients.

Seed 003 models the minibatch gradient as ``g_B = g + xi``, ``xi ~ N(0, Sigma / S)``
(Assumption 1) and assumes ``Sigma = sigma^2 H`` (Assumption 5). With train-mode BatchNorm a
per-sample gradient is not defined, so ``Sigma`` is measured the way it enters the dynamics, in
dynlab's convention: ``Sigma = S Cov(g_B)`` for a batch drawn exactly as the optimizer draws
one (``S`` images of one epoch's random permutation, so without replacement: the
finite-population factor ``(N - S) / (N - 1)`` is part of ``Cov(g_B)`` and not applied again).

The M batches are the first batch of M different epochs of the noise stream: independent
draws, each with the optimizer's marginal law (batches of one epoch are disjoint and
negatively correlated, which would bias a sample covariance). Two passes over them (a batch is
a pure function of its index): the first sums ``g_B`` for the mean gradient, the second records
on the device the projections ``q_i^T g_B`` (M, k) and the centred norms
``||g_B - mean g||^2`` (M,), and keeps the first ``n_probes`` centred gradients as probe
vectors of the ``tr(f(H) Sigma)`` quadrature (:mod:`dynlab.traces`).
"""

from __future__ import annotations

import torch

from .data import BatchStream, DeviceData
from .flat import FlatParams, frozen_bn

__all__ = ["minibatch_gradients"]


def minibatch_gradients(
    model,
    flat: FlatParams,
    data: DeviceData,
    Q: torch.Tensor,
    *,
    batch_size: int,
    n_batches: int,
    seed: int,
    stream: int,
    augment: bool,
    autocast,
    n_probes: int = 0,
    sampling: str = "reshuffle",
) -> dict:
    """Projections and norms of ``n_batches`` minibatch gradients at the current parameters.

    ``sampling`` is that of the optimizer's :class:`.data.BatchStream` (either way each batch
    is ``batch_size`` distinct samples, drawn independently of the others).

    Returns
    -------
    dict with ``proj`` (M, k) float64 array of ``q_i^T g_B``, ``centred_sqnorm`` (M,) of
    ``||g_B - mean g||^2``, ``mean_sqnorm`` = ``||mean_B g_B||^2``, ``N``, ``S``, and
    ``probes`` ((n_probes, n) tensor on the device: centred gradients ``g_B - mean g``).
    """
    if n_batches < 2:
        raise ValueError(f"n_batches must be >= 2 to estimate a covariance; got {n_batches}")
    stream_ = BatchStream(
        data, batch_size, seed=seed, stream=stream, augment=augment, sampling=sampling
    )
    k = Q.shape[0]
    rec = torch.empty(n_batches, k + 1, device=flat.theta.device, dtype=torch.float64)
    mean = torch.zeros_like(flat.theta)
    centred = torch.empty_like(flat.theta)
    probes = torch.empty(n_probes, flat.n, device=flat.theta.device, dtype=flat.theta.dtype)

    def gradient(b):
        x, y = stream_.batch(b * stream_.steps_per_epoch)  # first batch of epoch b
        with autocast():
            loss = model.criterion(model(x), y)
        flat.zero_grad()
        loss.backward()
        return flat.grad

    with frozen_bn(model):
        for b in range(n_batches):
            mean.add_(gradient(b), alpha=1.0 / n_batches)
        for b in range(n_batches):
            g = gradient(b)
            rec[b, :k] = Q @ g
            torch.sub(g, mean, out=centred)
            rec[b, k] = centred.dot(centred)
            if b < n_probes:
                probes[b] = centred
    flat.zero_grad()
    out = rec.cpu().numpy()
    return {
        "proj": out[:, :k],
        "centred_sqnorm": out[:, k],
        "mean_sqnorm": float(mean.dot(mean)),
        "N": data.n,
        "S": batch_size,
        "probes": probes,
    }
