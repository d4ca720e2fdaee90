r"""Heavy-ball SGD with weight decay on the toy networks, recorded step by step.

The update is PyTorch's ``torch.optim.SGD`` with ``dampening=0``:
``v_{k+1} = momentum v_k - (g_B(theta_k) + weight_decay theta_k)``,
``theta_{k+1} = theta_k + lr v_{k+1}`` (docs/conventions.md, "The optimizer"), as in Kunin et
al. 2021, arXiv:2012.04728, "A realistic continuous model for SGD".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_array, as_positive_int, as_rng
from ..errors import HyperparameterError, StabilityRegionError
from ..hyper import HeavyBall
from .toys import ToyModel

__all__ = ["Trajectory", "simulate"]


@dataclass(frozen=True)
class Trajectory:
    """A heavy-ball SGD run: ``theta`` and ``v`` at steps 0..n, minibatch gradients at 0..n-1.

    ``grad[k]`` is the minibatch gradient (without weight decay) that step k+1 used, taken at
    ``theta[k]``.
    """

    theta: np.ndarray
    v: np.ndarray
    grad: np.ndarray
    lr: float
    momentum: float
    weight_decay: float
    batch_size: int

    @property
    def t(self) -> np.ndarray:
        """SDE time ``t_k = lr * k`` of each recorded step."""
        return self.lr * np.arange(self.theta.shape[0])


def _check_hyper(lr, momentum, weight_decay):
    hp = HeavyBall(lr, momentum, weight_decay).require_scalar("the symmetry laws")
    return hp.lr, hp.momentum, hp.weight_decay


def simulate(
    model: ToyModel,
    theta0,
    *,
    lr: float,
    n_steps: int,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    batch_size: int | None = None,
    v0=None,
    seed=None,
) -> Trajectory:
    """Heavy-ball SGD with weight decay on a toy model (PyTorch semantics).

    ``v_{k+1} = momentum v_k - (g_B(theta_k) + weight_decay theta_k)``,
    ``theta_{k+1} = theta_k + lr v_{k+1}``. Minibatches of ``batch_size`` samples are drawn
    without replacement within each epoch (a fresh permutation per epoch, the remainder
    dropped); ``batch_size=None`` is full-batch gradient descent.

    Examples
    --------
    Without momentum the bias-translation charge of softmax regression decays as
    ``(1 - lr weight_decay)^k`` whatever the minibatches (its gradient component is zero):

    >>> from dynlab.symmetry import SoftmaxRegression
    >>> model = SoftmaxRegression.synthetic(n_samples=64, d=3, n_classes=3, seed=0)
    >>> traj = simulate(model, model.init(1), lr=0.1, n_steps=50, weight_decay=0.2,
    ...                 batch_size=8, seed=0)
    >>> q = model.symmetries[-1].charge(traj.theta)
    >>> bool(np.allclose(q, q[0] * (1 - 0.1 * 0.2) ** np.arange(51), rtol=1e-12))
    True
    """
    lr, momentum, weight_decay = _check_hyper(lr, momentum, weight_decay)
    n_steps = as_positive_int(n_steps, "n_steps")
    theta = model._check_theta(theta0).copy()
    v = (
        np.zeros(model.n_params)
        if v0 is None
        else as_array(v0, "v0", shape=(model.n_params,)).copy()
    )
    N = model.n_samples
    S = N if batch_size is None else as_positive_int(batch_size, "batch_size")
    if S > N:
        raise HyperparameterError(f"batch_size = {S} exceeds the {N} samples")
    rng = as_rng(seed)
    per_epoch = N // S
    thetas = np.empty((n_steps + 1, model.n_params))
    vs = np.empty_like(thetas)
    grads = np.empty((n_steps, model.n_params))
    thetas[0], vs[0] = theta, v
    perm = None
    for k in range(n_steps):
        j = k % per_epoch
        if S == N:
            idx = np.arange(N)
        else:
            if j == 0:
                perm = rng.permutation(N)
            idx = perm[j * S : (j + 1) * S]
        with np.errstate(over="ignore", invalid="ignore"):
            g = model._loss_grad(theta, idx)[1]
            v = momentum * v - (g + weight_decay * theta)
            theta = theta + lr * v
        if not np.all(np.isfinite(theta)):
            raise StabilityRegionError(
                f"SGD diverged at step {k + 1} (lr = {lr}, momentum = {momentum}): lower lr"
            )
        grads[k], thetas[k + 1], vs[k + 1] = g, theta, v
    return Trajectory(thetas, vs, grads, lr, momentum, weight_decay, S)
