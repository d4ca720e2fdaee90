"""All trainable parameters of a network as views into one flat vector (gradients too).

With ``theta`` and ``grad`` flat, the phase-space observables of seed 003 are single vector
operations on the device: ``||theta_k - theta*||^2`` is one subtraction and one dot product,
projections onto Hessian eigenvectors are one matrix-vector product, and the heavy-ball step is
three fused updates. Each parameter keeps its shape and strides (channels_last conv weights stay
channels_last); its elements occupy one contiguous segment of the flat vector, in memory order.
Every flat vector built with the same :class:`FlatParams` (eigenvectors, velocities, gradients)
shares that element order, and dot products and norms do not depend on it.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["FlatParams", "heavy_ball_step", "frozen_bn"]


def _dense_span(shape, stride) -> int:
    """Number of storage elements spanned by a tensor of this shape and stride."""
    return 1 + sum((s - 1) * st for s, st in zip(shape, stride)) if all(shape) else 0


class FlatParams:
    """Rebind every trainable parameter of ``model`` (and its ``.grad``) to a flat buffer.

    After construction, ``model``'s parameters are strided views of :attr:`theta` and their
    gradients views of :attr:`grad`: ``loss.backward()`` accumulates into :attr:`grad` in place,
    so clear it with :meth:`zero_grad` (never ``model.zero_grad()``, which would drop the views).
    Convert the model's memory format before, not after.

    Parameters
    ----------
    model : nn.Module
    """

    def __init__(self, model: nn.Module):
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError("model has no trainable parameters")
        self.names = [n for n, _ in named]
        self.params = [p for _, p in named]
        self.layout, offset = [], 0
        for n, p in named:
            if _dense_span(p.shape, p.stride()) != p.numel():
                raise ValueError(
                    f"parameter {n} is not dense (shape {tuple(p.shape)}, stride {p.stride()})"
                )
            self.layout.append((tuple(p.shape), tuple(p.stride()), offset, p.numel()))
            offset += p.numel()
        self.n = offset
        p0 = self.params[0]
        self.theta = torch.empty(self.n, dtype=p0.dtype, device=p0.device)
        self.grad = torch.zeros_like(self.theta)
        for p, view, gview in zip(self.params, self.views(self.theta), self.views(self.grad)):
            view.copy_(p.detach())
            p.data = view
            p.grad = gview
        self.index = {n: i for i, n in enumerate(self.names)}

    def views(self, vec: torch.Tensor) -> list[torch.Tensor]:
        """Parameter-shaped views of a flat vector with this layout."""
        if vec.shape != (self.n,):
            raise ValueError(f"flat vector must have shape ({self.n},); got {tuple(vec.shape)}")
        return [
            torch.as_strided(vec, shape, stride, vec.storage_offset() + off)
            for shape, stride, off, _ in self.layout
        ]

    def segment(self, vec: torch.Tensor, name: str) -> torch.Tensor:
        """The contiguous slice of ``vec`` holding parameter ``name`` (in memory order)."""
        _, _, off, size = self.layout[self.index[name]]
        return vec[off : off + size]

    def zero_grad(self) -> None:
        """Clear the gradient buffer in place."""
        self.grad.zero_()

    def gather(self, tensors) -> torch.Tensor:
        """A new flat vector from parameter-shaped tensors (e.g. ``autograd.grad`` output)."""
        out = torch.empty_like(self.theta)
        for view, t in zip(self.views(out), tensors):
            view.copy_(t)
        return out


def heavy_ball_step(
    theta, grad, buf, scratch, *, lr: float, momentum: float, weight_decay: float
) -> None:
    """One step of PyTorch's SGD (dampening 0, no Nesterov) on flat vectors, in place.

    ``d = g + weight_decay * theta; buf = momentum * buf + d; theta = theta - lr * buf``, in the
    same order of floating-point operations as ``torch.optim.SGD``. In the notation of seed 003
    eq. 2 the velocity is ``v = -buf``: ``v_{k+1} = beta v_k - g_k - lambda theta_k``,
    ``theta_{k+1} = theta_k + eta v_{k+1}``. ``scratch`` is a work vector of the same shape.
    """
    torch.add(grad, theta, alpha=weight_decay, out=scratch)
    buf.mul_(momentum).add_(scratch)
    theta.add_(buf, alpha=-lr)


@contextmanager
def frozen_bn(model: nn.Module):
    """Train-mode BatchNorm (batch statistics) that leaves the running statistics untouched.

    The loss seen by SGD uses batch statistics; Hessian-vector products, loss surfaces and
    gradient-noise estimates must use the same function without moving the running averages.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.training) for m in bns]
    was_training = model.training
    model.train()
    for m in bns:
        m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch
    try:
        yield model
    finally:
        for m, (mom, tr) in zip(bns, saved):
            m.momentum = mom
        model.train(was_training)
