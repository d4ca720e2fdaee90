"""``--model linear``: the bridge's pipeline on linear regression, where dynlab knows the answer.

A torch linear model ``f(x) = theta^T x`` (no bias) with the minibatch loss
``||X_B theta - y_B||^2 / (2 S)``, on a synthetic data set drawn from ``--seed``. Its Hessian is
``X^T X / N`` at every theta, its minibatch noise and the exact moments of heavy-ball SGD on it
are those of :class:`dynlab.minibatch.FiniteData` and :class:`dynlab.minibatch.MinibatchSGD`:
running the whole pipeline (pretraining, Hessian-vector products, noise probes, base run,
sweeps, report) on it checks the measuring code against exact numbers, on a CPU in seconds.

:class:`FeatureData` hands out ``(x, y)`` batches as :class:`.data.DeviceData` does, so
:class:`.data.BatchStream` and every phase take it unchanged.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .data import Cifar10

__all__ = ["LinearRegression", "FeatureData", "regression_data"]

#: Scales of the synthetic features: column j of X is standard normal times a value spaced
#: evenly in this range, so the eigenvalues of X^T X / N spread over about a factor 5: the
#: slowest mode still relaxes within tens of steps, so short runs reach stationarity.
FEATURE_SCALES = (1.0, 2.0)


class LinearRegression(nn.Module):
    """``f(x) = theta^T x`` with the loss ``mean((f(x) - y)^2) / 2``.

    Parameters
    ----------
    width : int
        The number of features d (the option ``--width`` of ``--model linear``).
    """

    def __init__(self, width: int):
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be >= 1; got {width}")
        self.width = width
        self.fc = nn.Linear(width, 1, bias=False)

    def forward(self, x):
        return self.fc(x).squeeze(-1)

    @staticmethod
    def criterion(out, y, reduction: str = "mean"):
        """``(out - y)^2 / 2`` averaged (or summed) over the batch."""
        return 0.5 * nn.functional.mse_loss(out, y, reduction=reduction)

    @staticmethod
    def n_correct(out, y):
        """No accuracy for a regression: NaN (the report prints the test loss)."""
        return torch.full((), float("nan"), device=out.device)


def regression_data(n_train: int, n_test: int, width: int, seed: int) -> Cifar10:
    """A synthetic regression set: ``y = X w + noise`` with unit noise, drawn from ``seed``.

    Returned in the container of :func:`.data.load_cifar10` (float64 features instead of
    images), so the run's data fingerprint and bookkeeping apply unchanged.
    """
    rng = np.random.default_rng(seed)
    scale = np.linspace(*FEATURE_SCALES, width)
    w = rng.standard_normal(width)
    X = rng.standard_normal((n_train + n_test, width)) * scale
    y = X @ w + rng.standard_normal(n_train + n_test)
    source = f"synthetic linear regression (d = {width}, seed {seed})"
    return Cifar10(X[:n_train], y[:n_train], X[n_train:], y[n_train:], source=source)


class FeatureData:
    """One split of a regression set on the device, with the batch interface of DeviceData.

    Parameters
    ----------
    x : (N, d) array
    y : (N,) array
    device : torch.device
    dtype : torch.dtype
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, device, *, dtype=torch.float32):
        self.device = torch.device(device)
        self.x = torch.as_tensor(np.asarray(x), dtype=dtype, device=self.device)
        self.y = torch.as_tensor(np.asarray(y), dtype=dtype, device=self.device)
        self.n = len(self.y)

    def take(
        self, idx: torch.Tensor, *, augment: bool = False, generator: torch.Generator | None = None
    ):
        """``(x, y)`` of the samples ``idx`` (features have no augmentation: ``augment`` is
        ignored)."""
        return self.x[idx], self.y[idx]

    def chunks(self, batch_size: int):
        """Fixed batches covering the split in order."""
        for s in range(0, self.n, batch_size):
            yield self.x[s : s + batch_size], self.y[s : s + batch_size]
