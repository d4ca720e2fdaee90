"""The training loss on a fixed data subset: Hessian-vector products, eigenpairs, loss surfaces.

The loss is the one SGD descends (the model's ``criterion``: cross-entropy for the ResNet) with
train-mode BatchNorm (batch statistics) on
batches of the training batch size, here a fixed, unaugmented subset cut into fixed batches and
averaged with weights ``|B| / N``. The running BN statistics are left untouched
(:func:`.flat.frozen_bn`). Products are computed in float32 without autocast and, on CUDA,
without TF32, so that eigenvector residuals measure the eigensolver, not reduced-precision
matrix products.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from .data import DeviceData
from .eigen import EigenResult, lanczos_topk
from .flat import FlatParams, frozen_bn

__all__ = ["fixed_batches", "full_precision", "hvp_operator", "top_eigenpairs", "loss_surface"]


def fixed_batches(data: DeviceData, n_samples: int, batch_size: int) -> list:
    """The first ``n_samples`` images of ``data`` (unaugmented) in batches of ``batch_size``."""
    if not 1 <= n_samples <= data.n:
        raise ValueError(f"n_samples must be in [1, {data.n}]; got {n_samples}")
    out = []
    for s in range(0, n_samples, batch_size):
        idx = torch.arange(s, min(s + batch_size, n_samples), device=data.device)
        out.append(data.take(idx))
    return out


@contextmanager
def full_precision():
    """Disable TF32 in matmuls and cuDNN convolutions inside the block (restored after)."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def hvp_operator(model: nn.Module, flat: FlatParams, batches: list):
    """``v -> H v`` for the Hessian at the current parameters of the fixed-batch loss.

    Double backward: ``H v = d/dtheta <dL/dtheta, v>``, batch by batch, weighted by batch size.
    """
    n_total = sum(len(y) for _, y in batches)

    def matvec(v: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(v)
        vs = flat.views(v)
        with frozen_bn(model), full_precision():
            for x, y in batches:
                loss = model.criterion(model(x), y) * (len(y) / n_total)
                grads = torch.autograd.grad(loss, flat.params, create_graph=True)
                dot = sum((g * u).sum() for g, u in zip(grads, vs))
                hv = torch.autograd.grad(dot, flat.params)
                for o, h in zip(flat.views(out), hv):
                    o.add_(h)
        return out

    return matvec


def top_eigenpairs(
    model, flat: FlatParams, batches: list, k: int, *, max_iter=None, tol=1e-3, seed=0
) -> EigenResult:
    """Top-k eigenpairs of the fixed-batch Hessian at the current parameters (Lanczos)."""
    return lanczos_topk(
        hvp_operator(model, flat, batches),
        flat.n,
        k,
        max_iter=max_iter,
        tol=tol,
        seed=seed,
        device=flat.theta.device,
        dtype=flat.theta.dtype,
        desc="hessian",
    )


@torch.no_grad()
def loss_surface(
    model,
    flat: FlatParams,
    center: torch.Tensor,
    dirs: torch.Tensor,
    xs,
    ys,
    batches: list,
    autocast,
) -> np.ndarray:
    """Fixed-batch loss at ``center + x dirs[0] + y dirs[1]`` on the grid ``ys x xs`` (rows: y).

    The parameters are restored to ``center`` afterwards.
    """
    n_total = sum(len(y) for _, y in batches)
    out = torch.zeros(len(ys), len(xs), device=flat.theta.device)
    with frozen_bn(model):
        for i, yv in enumerate(ys):
            for j, xv in enumerate(xs):
                torch.add(center, dirs[0], alpha=float(xv), out=flat.theta)
                flat.theta.add_(dirs[1], alpha=float(yv))
                for x, y in batches:
                    with autocast():
                        out[i, j] += model.criterion(model(x).float(), y, reduction="sum")
    flat.theta.copy_(center)
    return (out / n_total).cpu().numpy()
