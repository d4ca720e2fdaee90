"""The regression problems of the main job: the embedded synthetic one and CIFAR-10 one-hot.

A :class:`Setup` is one single-output least-squares problem ``||Y - X theta||^2 / 2N`` (seed 003
sec. 5) with everything the predictions need computed once: H, b, the minimizer mu and the
per-sample gradient covariance Sigma at mu (seed 003 Assumption 3 linearises the noise there).

One-hot CIFAR-10 targets have 10 columns. The loss is a sum over columns, each column's
gradient involves only its own weights, and every column sees the same H: the 10 columns are
10 independent copies of the problem above with the same H and their own b_c and Sigma_c
(the minibatch is shared, which correlates the columns' noise but leaves each column's law
unchanged). So each column is simulated and predicted exactly on its own; ``column`` picks one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg

from dynlab.hyper import HeavyBall
from dynlab.models import LinearRegressionProblem, QuadraticProblem, synthetic_regression

from .cifar import CLASSES, load_cifar10_train

__all__ = ["Setup", "synthetic_setup", "cifar_setup"]


@dataclass
class Setup:
    """One least-squares problem and the hyperparameters of the experiment run on it.

    Attributes
    ----------
    name : str
        ``"synthetic"`` or ``"cifar10"``.
    problem : LinearRegressionProblem
        Data X (N, d) and the single target column Y (N,).
    lr, batch_size : float, int
        Base learning rate and batch size.
    momenta : tuple of float
        The momenta compared (seed 003 Table 2: 0.9 and 0.99).
    low_mode : int
        0-based index of the low-curvature Hessian eigenvector shown next to q_1.
    theta0 : (d,) ndarray
        Start of the transient (mean-trajectory) runs; velocity starts at 0.
    optimizers : tuple of HeavyBall
        One validated :class:`~dynlab.hyper.HeavyBall` per momentum (lr, batch_size shared): the
        settings every run and prediction of the job takes.
    mu, Sigma : ndarray
        Least-squares solution and per-sample gradient covariance at it (population form).
    info : dict
        Description for the report.
    """

    name: str
    problem: LinearRegressionProblem
    lr: float
    batch_size: int
    momenta: tuple
    low_mode: int
    theta0: np.ndarray
    optimizers: tuple = field(init=False)
    mu: np.ndarray = field(init=False)
    Sigma: np.ndarray = field(init=False)
    info: dict = field(default_factory=dict)
    _gaussian: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        self.optimizers = tuple(
            HeavyBall(lr=self.lr, momentum=beta, batch_size=self.batch_size)
            for beta in self.momenta
        )
        H, b = self.problem.H, self.problem.b
        self.mu = scipy.linalg.solve(H, b, assume_a="pos")
        self.Sigma = self.problem.gradient_noise_cov(self.mu)

    @property
    def d(self) -> int:
        """Number of parameters."""
        return self.problem.d

    @property
    def N(self) -> int:
        """Number of samples."""
        return self.problem.N

    def noise_cov(self, batch_size: int) -> np.ndarray:
        r"""Per-sample covariance whose ``1 / batch_size`` is that of one minibatch gradient.

        Batches of S rows drawn without replacement (as the integrator zoo and PyTorch's
        DataLoader draw them) have gradient covariance ``Sigma / S * (N - S) / (N - 1)``
        (finite-population correction); both the predictions and the Gaussian-noise simulations
        use this ``Sigma (N - S) / (N - 1)``, so the two simulations share one prediction.
        """
        return self.Sigma * ((self.N - batch_size) / (self.N - 1))

    def gaussian_problem(self, batch_size: int) -> QuadraticProblem:
        """The same loss with Gaussian gradient noise ``N(0, noise_cov(S) / S)``.

        Cached per batch size: the zoo factors the noise covariance once per problem."""
        if batch_size not in self._gaussian:
            p = self.problem
            self._gaussian[batch_size] = QuadraticProblem(
                p.H, p.b, noise_cov=self.noise_cov(batch_size), c=p.c
            )
        return self._gaussian[batch_size]


def synthetic_setup(
    *,
    d: int = 64,
    n_samples: int = 4096,
    noise_std: float = 0.1,
    lr: float = 0.15,
    batch_size: int = 128,
    momenta=(0.9, 0.99),
    seed: int = 0,
) -> Setup:
    """The embedded default: :func:`dynlab.models.synthetic_regression` (no download).

    Inputs with power-law variances ``j^{-1}`` (condition number about d) in a random basis, a
    Gaussian teacher and label noise ``noise_std``; the gradient noise at the minimum is then
    close to ``noise_std^2 H`` (seed 003 Assumption 5) without being exactly proportional.
    The transient starts at theta = 0.
    """
    problem = synthetic_regression(n_samples, d, decay=1.0, noise_std=noise_std, seed=seed)
    return Setup(
        name="synthetic",
        problem=problem,
        lr=lr,
        batch_size=batch_size,
        momenta=tuple(momenta),
        low_mode=d - 1,
        theta0=np.zeros(d),
        info={
            "data": f"synthetic_regression(n_samples={n_samples}, d={d}, decay=1, "
            f"noise_std={noise_std}, seed={seed})",
            "N": n_samples,
            "d": d,
        },
    )


def cifar_setup(
    root,
    *,
    column: int = 0,
    n_samples: int | None = None,
    lr: float = 1e-5,
    batch_size: int = 512,
    momenta=(0.9, 0.99),
    low_mode: int = 29,
) -> Setup:
    """The seed-003 Fig. 2 experiment: linear regression of one one-hot column of CIFAR-10.

    Inputs are pixels / 255 in [0, 1] with a constant feature 1 appended (the bias of a linear
    layer): d = 3073. Hyperparameters of seed 003 Table 2 (lr 1e-5, batch 512, momentum 0.9 and
    0.99, no weight decay). The Hessian is exact: ``H = X^T X / N`` over the training set.
    The transient starts at theta = 0. ``low_mode = 29`` is q_30, the paper's low eigenvector.
    """
    X, labels, layout = load_cifar10_train(root, n_samples)
    X = np.hstack([X, np.ones((X.shape[0], 1))])
    if not 0 <= column < len(CLASSES):
        raise ValueError(f"column must be a class index in [0, {len(CLASSES)}); got {column}")
    Y = (labels == column).astype(np.float64)
    problem = LinearRegressionProblem(X, Y)
    return Setup(
        name="cifar10",
        problem=problem,
        lr=lr,
        batch_size=batch_size,
        momenta=tuple(momenta),
        low_mode=low_mode,
        theta0=np.zeros(problem.d),
        info={
            "data": f"CIFAR-10 train ({layout} layout), pixels / 255 plus a bias feature, "
            f"one-hot column {column} ({CLASSES[column]})",
            "N": problem.N,
            "d": problem.d,
            "column": column,
        },
    )
