"""The bridge's measuring half on minibatch SGD for linear regression: dynlab knows the answer.

Heavy-ball SGD runs on ``||Y - X theta||^2 / 2N`` with batches drawn as the optimizer draws them
(S rows without replacement, a fresh subset each step). The same functions the report uses
(autocorrelation-time means with their ESS, the noise probes' Lanczos quadrature with the exact
speed weight, Yaida's relation) must reproduce dynlab's exact discrete prediction
(``SGDPhaseSpace.from_data(..., replacement=False)``) within |z| <= 4. No torch.
"""

import numpy as np

from dynlab.hyper import HeavyBall
from dynlab.sgd import SGDPhaseSpace
from dynlab.stationarity import fluctuation_dissipation_series
from dynlab.traces import gauss_rules, noise_trace, speed_weight
from validation.bridge import analysis as an
from validation.bridge.config import Z_GATE

N, D, S = 200, 8, 10
HP = HeavyBall(lr=1e-3, momentum=0.9, batch_size=S)


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)) * np.linspace(0.5, 2.0, D)
    Y = X @ rng.standard_normal(D) + rng.standard_normal(N)
    return X, Y, np.linalg.lstsq(X, Y, rcond=None)[0]


def _grad(X, Y, theta, idx):
    Xb = X[idx]
    return Xb.T @ (Xb @ theta - Y[idx]) / len(idx)


def test_measured_speed_quadrature_and_fdr_match_dynlabs_exact_answer():
    X, Y, star = _problem()
    model = SGDPhaseSpace.from_data(
        X, Y, lr=HP.lr, momentum=HP.momentum, batch_size=S, replacement=False
    )
    exact = model.speed(exact=True)
    rng = np.random.default_rng(1)
    burn, steps = 5000, 40000
    theta, v = star.copy(), np.zeros(D)
    delta2, theta_g = np.empty(steps), np.empty(steps)
    for k in range(burn + steps):
        g = _grad(X, Y, theta, rng.choice(N, S, replace=False))
        v = HP.momentum * v - g
        step = HP.lr * v
        if k >= burn:
            delta2[k - burn], theta_g[k - burn] = step @ step, (theta - star) @ g
        theta = theta + step
    # the speed, measured as the report measures it (state-dependent noise: O(lr) relative,
    # ~1e-3 here, far below the standard error)
    m = an.windowed_mean(delta2, 0, steps)
    assert an.verdict(m)
    assert abs(m.mean - exact) <= Z_GATE * m.se, (m.mean, exact, m.se)
    # the measured-Sigma prediction from centred minibatch gradients at theta* (noise probes)
    M = 2000
    G = np.array([_grad(X, Y, star, rng.choice(N, S, replace=False)) for _ in range(M)])
    H = X.T @ X / N
    rules = gauss_rules(lambda u: H @ u, G - G.mean(0), n_steps=D)
    est = noise_trace(*rules, lambda x: speed_weight(x, HP), batch_size=S, n_centred=M)
    assert abs(est.value - exact) <= Z_GATE * est.se, (est.value, exact, est.se)
    # Yaida's relation holds on the stationary run
    fdr = fluctuation_dissipation_series(theta_g, delta2, HP)
    assert an.verdict(fdr.lhs, fdr.rhs, fdr.diff) and abs(fdr.z) <= Z_GATE, fdr.z


def test_a_second_finite_population_factor_would_be_caught():
    """Scaling Sigma by (N - 1) / (N - S) again (the old estimator) moves the prediction by 5%,
    many standard errors: the known-answer check resolves the noise convention."""
    X, Y, star = _problem()
    model = SGDPhaseSpace.from_data(
        X, Y, lr=HP.lr, momentum=HP.momentum, batch_size=S, replacement=False
    )
    rng = np.random.default_rng(2)
    M = 4000
    G = np.array([_grad(X, Y, star, rng.choice(N, S, replace=False)) for _ in range(M)])
    H = X.T @ X / N
    rules = gauss_rules(lambda u: H @ u, G - G.mean(0), n_steps=D)
    est = noise_trace(*rules, lambda x: speed_weight(x, HP), batch_size=S, n_centred=M)
    exact = model.speed(exact=True)
    assert abs(est.value - exact) <= Z_GATE * est.se
    assert abs(est.value * (N - 1) / (N - S) - exact) > Z_GATE * est.se
