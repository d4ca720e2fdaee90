"""Seed 001: broken conservation laws of the scale and translation symmetries, measured and solved.

Heavy-ball SGD (seed 003 eq. 2, v = -buf): ``v_{k+1} = beta v_k - g_k - lambda theta_k``,
``theta_{k+1} = theta_k + eta v_{k+1}``.

Translation (final layer W, rows = classes): the softmax makes ``sum_c dL/dW_c = 0``, so the
column sums ``s = 1^T W`` and ``s_v = 1^T v`` obey, exactly, the linear recursion
``s_v' = beta s_v - lambda s``, ``s' = s + eta s_v'``, whatever the data; same for the bias sum.
Seed 001 (gradient flow with weight decay, t = eta k) gives ``s(t) = e^{-lambda t} s(0)``; with
momentum, time runs faster by ``1 / (1 - beta)`` (seed 001's "(1 - beta) dtheta/dt = -g").

Scale (conv weight followed by BatchNorm): ``<theta_A, g_A> = 0``. With ``a_k = |theta_k|^2``,
``u_k = <theta_k, v_{k+1}>`` and ``c_k = |v_k|^2`` (measured), the exact identities are
``u_k = beta (u_{k-1} + eta c_k) - lambda a_k`` and ``a_{k+1} = a_k + 2 eta u_k + eta^2 c_{k+1}``
(derivation: ``<theta_k, v_k> = <theta_{k-1} + eta v_k, v_k>``). For beta = 0 they reduce to
``a_{k+1} = (1 - eta lambda)^2 a_k + eta^2 |g_k|^2``, driven by the measured gradient norms; seed
001's
continuous law is ``|theta(t)|^2 = e^{-2 lambda t} |theta(0)|^2 + eta int_0^t e^{-2 lambda (t -
tau)} |g(tau)|^2 dtau``.

The predictions (the exact recursions and seed 001's laws) are dynlab's
(:mod:`dynlab.symmetry`), applied in :mod:`.sections_seeds`.

The run is float32 without autocast or TF32 (bf16 logits would break the column-sum identity
at the 1e-3 level); per-layer sums are float64.
"""

from __future__ import annotations

import torch
from torch import nn

from .data import BatchStream, DeviceData
from .flat import FlatParams, heavy_ball_step
from .hessian import full_precision
from .model import scale_invariant_weights

__all__ = ["conservation_run"]


def conservation_run(
    model,
    data: DeviceData,
    *,
    lr: float,
    momentum: float,
    weight_decay: float,
    batch_size: int,
    steps: int,
    seed: int,
    stream: int,
    augment: bool,
) -> dict:
    """Resume heavy-ball SGD from the model's parameters and record both symmetries' quantities.

    Returns
    -------
    dict of arrays: ``layers`` (names of the scale-invariant weights); for each step k = 0..steps-1
    and layer: ``a`` = |theta_k|^2, ``tg`` = <theta_k, g_k>, ``gg`` = |g_k|^2, ``vv`` = |v_{k+1}|^2
    (steps, n_layers); ``a_end`` (n_layers,) = |theta_steps|^2; ``colsum`` (steps + 1, width) =
    1^T W_k and ``biassum`` (steps + 1,) = 1^T b_k for k = 0..steps.
    """
    flat = FlatParams(model)
    layers = scale_invariant_weights(model)
    buf, scratch = torch.zeros_like(flat.theta), torch.empty_like(flat.theta)
    batches = BatchStream(data, batch_size, seed=seed, stream=stream, augment=augment)
    fc_w, fc_b = model.fc.weight, model.fc.bias
    dev = flat.theta.device
    L = len(layers)
    rec = torch.zeros(steps, 4, L, device=dev, dtype=torch.float64)
    cols = torch.zeros(steps + 1, fc_w.shape[1] + 1, device=dev, dtype=torch.float64)

    def segs(vec):
        return [flat.segment(vec, n).double() for n in layers]

    def colsum(k):
        cols[k, :-1] = fc_w.detach().double().sum(0)
        cols[k, -1] = fc_b.detach().double().sum()

    colsum(0)
    with full_precision():
        for k in range(steps):
            x, y = batches.batch(k)
            loss = nn.functional.cross_entropy(model(x), y)
            flat.zero_grad()
            loss.backward()
            th, g = segs(flat.theta), segs(flat.grad)
            rec[k, 0] = torch.stack([t.dot(t) for t in th])
            rec[k, 1] = torch.stack([t.dot(u) for t, u in zip(th, g)])
            rec[k, 2] = torch.stack([u.dot(u) for u in g])
            heavy_ball_step(
                flat.theta,
                flat.grad,
                buf,
                scratch,
                lr=lr,
                momentum=momentum,
                weight_decay=weight_decay,
            )
            rec[k, 3] = torch.stack([b.dot(b) for b in segs(buf)])
            colsum(k + 1)
    a_end = torch.stack([t.dot(t) for t in segs(flat.theta)])
    r = rec.cpu().numpy()
    return {
        "layers": layers,
        "a": r[:, 0],
        "tg": r[:, 1],
        "gg": r[:, 2],
        "vv": r[:, 3],
        "a_end": a_end.cpu().numpy(),
        "colsum": cols[:, :-1].cpu().numpy(),
        "biassum": cols[:, -1].cpu().numpy(),
    }
