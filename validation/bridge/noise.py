"""Structure of the gradient noise at theta*: ``q_i^T Sigma q_i`` from minibatch gradients.

Seed 003 models the minibatch gradient as ``g_B = g + xi``, ``xi ~ N(0, Sigma / S)``
(Assumption 1) and assumes ``Sigma = sigma^2 H`` (Assumption 5). With train-mode BatchNorm a
per-sample gradient is not defined, so ``Sigma`` is measured the way it enters the dynamics:
``Sigma = S Cov(g_B)`` over batches of the training size ``S``, drawn without replacement from
the ``N`` training images, whose covariance carries the finite-population factor
``(N - S) / (N - 1)``: ``Sigma = S (N - 1) / (N - S) Cov(g_B)``.

Two passes over the same M batches (a batch is a pure function of its index): the first sums
``g_B`` for the mean gradient, the second records on the device the projections ``q_i^T g_B``
(M, k) and the centred norms ``||g_B - mean g||^2`` (M,), whose mean estimates ``tr Cov(g_B)``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .data import BatchStream, DeviceData
from .flat import FlatParams, frozen_bn

__all__ = ["minibatch_gradients", "noise_covariance"]


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
) -> dict:
    """Projections and norms of ``n_batches`` minibatch gradients at the current parameters.

    Returns
    -------
    dict with ``proj`` (M, k) float64 array of ``q_i^T g_B``, ``centred_sqnorm`` (M,) of ``||g_B - mean g||^2``,
    ``mean_sqnorm`` = ``||mean_B g_B||^2``, ``N``, ``S``.
    """
    if n_batches < 2:
        raise ValueError(f"n_batches must be >= 2 to estimate a covariance; got {n_batches}")
    stream_ = BatchStream(data, batch_size, seed=seed, stream=stream, augment=augment)
    k = Q.shape[0]
    rec = torch.empty(n_batches, k + 1, device=flat.theta.device, dtype=torch.float64)
    mean = torch.zeros_like(flat.theta)
    centred = torch.empty_like(flat.theta)

    def gradient(b):
        x, y = stream_.batch(b)
        with autocast():
            loss = nn.functional.cross_entropy(model(x), y)
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
    flat.zero_grad()
    out = rec.cpu().numpy()
    return {
        "proj": out[:, :k],
        "centred_sqnorm": out[:, k],
        "mean_sqnorm": float(mean.dot(mean)),
        "N": data.n,
        "S": batch_size,
    }


def noise_covariance(res: dict) -> dict:
    """``q_i^T Sigma q_i`` and ``tr Sigma`` with standard errors from :func:`minibatch_gradients` output.

    ``Var(q^T g_B)`` is the unbiased sample variance; its standard error is
    ``sqrt((m4 - s^4) / M)`` with ``m4`` the fourth central moment (no Gaussian assumption).
    ``tr Cov(g_B)`` is ``sum ||g_B - mean g||^2 / (M - 1)``, with the standard error of that mean.
    """
    proj, c, N, S = res["proj"], res["centred_sqnorm"], res["N"], res["S"]
    M = len(c)
    fpc = (N - 1) / (N - S) if N > S else np.inf
    dev = proj - proj.mean(0)
    var = (dev**2).sum(0) / (M - 1)
    m4 = (dev**4).mean(0)
    var_se = np.sqrt(np.maximum(m4 - var**2, 0.0) / M)
    tr = c.sum() / (M - 1)
    tr_se = np.std(c, ddof=1) / np.sqrt(M) * M / (M - 1)
    return {
        "qSq": S * fpc * var,
        "qSq_se": S * fpc * var_se,
        "trSigma": S * fpc * tr,
        "trSigma_se": S * fpc * tr_se,
        "fpc": fpc,
    }
