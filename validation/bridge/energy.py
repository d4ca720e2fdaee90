"""Seed 000: energy drift of damped leapfrog with mass preconditioning, SGD-momentum and AdamW.

Hamiltonian ``H(theta, p) = 1/2 p^T M^{-1} p + L(theta)`` (seed 000 section 2.1) with the layer-wise
inverse mass of eq. 5 (:func:`.model.mass_inverse`). One leapfrog step on minibatch B (eqs. 2-4),
both half kicks with the same batch so that the step is time-symmetric::

    p <- e^{-gamma dt / 2} p - dt/2 grad L_B(theta)
    theta <- theta + dt M^{-1} p
    p <- e^{-gamma dt / 2} p - dt/2 grad L_B(theta)

then the energy cap of eq. 7: if ``H > alpha H_0``, ``p <- p sqrt(max(eps, alpha H_0 - L) /
max(eps, K))``
(``H_0`` the energy at step 0, with ``p_0 = 0``).

For the first-order optimizers the kinetic energy follows the heavy-ball / leapfrog
correspondence ``dt = sqrt(lr)``, ``p = (theta_{k+1} - theta_k) / dt``, unit mass:
``K = ||theta_{k+1} - theta_k||^2 / (2 lr)`` (for SGD-momentum, ``K = lr ||buf||^2 / 2``). This is
our
convention; seed 000 does not say how it defines H for SGD and AdamW.

Per step t the device records ``L_{B_t}(theta_t)``, ``L_{B_t}(theta_{t+1})``, ``K_t``, ``K_{t+1}``
and
whether the cap fired, from which two energy changes follow:

* consecutive: ``Delta H_t = H_{t+1} - H_t`` with ``H_t = K_t + L_{B_t}(theta_t)``, the energy a
  training loop logs at each step (each on its own batch) -- our reading of seed 000 eq. 1;
* same-batch: ``K_{t+1} + L_{B_t}(theta_{t+1}) - K_t - L_{B_t}(theta_t)``, the change of the one
  Hamiltonian the step integrates: discretization error, damping and cap only.

All of it runs in float32 without autocast or TF32: energy changes of 1e-3 nats need it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dynlab.observables import reversibility_error

from .data import BatchStream, DeviceData
from .flat import FlatParams, heavy_ball_step
from .hessian import full_precision
from .model import mass_inverse

__all__ = ["EnergyRun", "energy_run", "round_trip", "CAP_EPS"]

#: Guard against division by zero in the cap (seed 000 eq. 7).
CAP_EPS = 1e-12

METHODS = ("leapfrog", "sgd", "adamw")


@dataclass(frozen=True)
class EnergyRun:
    """One run of seed 000's drift measurement."""

    method: str  # "leapfrog", "sgd" (heavy ball) or "adamw"
    step: float  # dt for leapfrog, lr otherwise
    seed: int
    steps: int
    batch_size: int
    damping: float = 1e-3  # gamma (leapfrog)
    cap: float = 2.0  # alpha (leapfrog)
    momentum: float = 0.9  # sgd
    weight_decay: float = 0.0  # sgd, adamw

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {self.method!r}")


def _minv_flat(model, flat: FlatParams) -> torch.Tensor:
    minv = torch.empty_like(flat.theta)
    mi = mass_inverse(model)
    for name, view in zip(flat.names, flat.views(minv)):
        view.fill_(mi[name])
    return minv


def _loss_grad(model, flat, x, y):
    loss = nn.functional.cross_entropy(model(x), y)
    flat.zero_grad()
    loss.backward()
    return loss.detach()


def energy_run(run: EnergyRun, model, data: DeviceData, *, augment: bool, stream: int) -> dict:
    """Run ``run.steps`` steps of ``run.method`` from the model's current parameters.

    ``model`` must be in train mode with its parameters flattened fresh (they are changed).
    Batches depend on ``(run.seed, stream, step)`` only, so every step size sees the same batches.

    Returns
    -------
    dict of float64 arrays over steps: ``L0`` = L_{B_t}(theta_t), ``L1`` = L_{B_t}(theta_{t+1}),
    ``K0``, ``K1``, ``capped`` (0/1); and ``H0``.
    """
    flat = FlatParams(model)
    theta = flat.theta
    dev = theta.device
    batches = BatchStream(data, run.batch_size, seed=run.seed, stream=stream, augment=augment)
    rec = torch.zeros(run.steps, 5, device=dev, dtype=torch.float64)
    p = torch.zeros_like(theta)
    prev, scratch = torch.empty_like(theta), torch.empty_like(theta)
    minv = _minv_flat(model, flat)
    K = torch.zeros((), device=dev)
    H0 = None
    if run.method == "adamw":
        opt = torch.optim.AdamW(
            flat.params, lr=run.step, weight_decay=run.weight_decay, foreach=False
        )
    with full_precision():
        for t in range(run.steps):
            x, y = batches.batch(t)
            L0 = _loss_grad(model, flat, x, y)
            if H0 is None:
                H0 = L0 + K
            if run.method == "leapfrog":
                dt, decay = run.step, math.exp(-run.damping * run.step / 2)
                p.mul_(decay).add_(flat.grad, alpha=-dt / 2)
                theta.addcmul_(minv, p, value=dt)
                L1 = _loss_grad(model, flat, x, y)
                p.mul_(decay).add_(flat.grad, alpha=-dt / 2)
                K1 = 0.5 * (minv * p * p).sum()
                over = (K1 + L1) > run.cap * H0
                scale = torch.sqrt(
                    torch.clamp(run.cap * H0 - L1, min=CAP_EPS) / torch.clamp(K1, min=CAP_EPS)
                )
                p.mul_(torch.where(over, scale, torch.ones_like(scale)))
                K1 = 0.5 * (minv * p * p).sum()
            else:
                prev.copy_(theta)
                if run.method == "sgd":
                    heavy_ball_step(
                        theta,
                        flat.grad,
                        p,
                        scratch,
                        lr=run.step,
                        momentum=run.momentum,
                        weight_decay=run.weight_decay,
                    )
                else:
                    opt.step()
                with torch.no_grad():
                    L1 = nn.functional.cross_entropy(model(x), y)
                prev.sub_(theta)
                K1 = prev.dot(prev) / (2 * run.step)
                over = torch.zeros((), device=dev, dtype=torch.bool)
            torch.stack(
                [L0.double(), L1.double(), K.double(), K1.double(), over.double()], out=rec[t]
            )
            K = K1
    out = rec.cpu().numpy()
    return {
        "L0": out[:, 0],
        "L1": out[:, 1],
        "K0": out[:, 2],
        "K1": out[:, 3],
        "capped": out[:, 4],
        "H0": float(H0),
    }


def round_trip(
    method: str,
    dt: float,
    n_steps: int,
    model,
    data: DeviceData,
    *,
    seed: int,
    stream: int,
    batch_size: int,
    augment: bool,
) -> float:
    """Normalized round-trip error of seed 000 Fig. 2, through
    ``dynlab.observables.reversibility_error``.

    ``n_steps`` steps forward from rest on batches ``B_1..B_n``, momentum reversed, ``n_steps``
    steps
    on ``B_n..B_1``; the error is ``||(theta_2 - theta_0, -p_2 - p_0)|| / ||(theta_0, p_0)||``.
    ``method``: ``"leapfrog"`` (undamped: gamma = 0, exactly reversible in exact arithmetic) or
    ``"euler"`` (explicit Euler of Hamilton's equations, first order: ``theta += dt M^{-1} p``,
    ``p -= dt grad L(theta_old)``). Mass preconditioning of eq. 5 for both.
    """
    if method not in ("leapfrog", "euler"):
        raise ValueError(f"method must be 'leapfrog' or 'euler'; got {method!r}")
    flat = FlatParams(model)
    theta = flat.theta
    minv = _minv_flat(model, flat)
    batches = BatchStream(data, batch_size, seed=seed, stream=stream, augment=augment)
    xs = [batches.batch(t) for t in range(n_steps)]
    passes = [xs, xs[::-1]]  # the second call of advance runs the batches backwards

    def step(x, y, p):
        if method == "leapfrog":
            _loss_grad(model, flat, x, y)
            p.add_(flat.grad, alpha=-dt / 2)
            theta.addcmul_(minv, p, value=dt)
            _loss_grad(model, flat, x, y)
            p.add_(flat.grad, alpha=-dt / 2)
        else:
            _loss_grad(model, flat, x, y)
            theta.addcmul_(minv, p, value=dt)
            p.add_(flat.grad, alpha=-dt)

    def advance(theta_np, p_np, n):
        theta.copy_(torch.from_numpy(theta_np))
        p = torch.from_numpy(np.array(p_np)).to(theta)
        with full_precision():
            for x, y in passes.pop(0)[:n]:
                step(x, y, p)
        return theta.double().cpu().numpy(), p.double().cpu().numpy()

    theta0 = theta.double().cpu().numpy()
    return float(reversibility_error(advance, theta0, np.zeros_like(theta0), n_steps))
