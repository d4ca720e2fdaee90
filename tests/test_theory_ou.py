"""The SDE side of dynlab (dynlab.ou, dynlab.sgd, dynlab.modes) against the sympy derivations.

Each test evaluates a derived expression of ``theory/`` (the independent reference) and the
dynlab function that implements it on hypothesis-drawn SGD setups. Tolerances are rounding:
a multiple of eps times the condition number of what is computed, stated at each assert.
"""

import numpy as np
from hypothesis import assume, example, given
from hypothesis import strategies as st

from dynlab import config, modes
from dynlab.sgd import SGDPhaseSpace
from dynlab.testing.strategies import sgd_setups
from theory import diffusion, equipartition, oscillator, ou_mode, sgd_sde

EPS = config.EPS
D = 3


def lyap_cond(A):
    n = A.shape[0]
    return np.linalg.cond(np.kron(np.eye(n), A) + np.kron(A, np.eye(n)))


def eig(H):
    w, q = np.linalg.eigh(H)
    return w, q


@given(sgd_setups(D))
def test_drift_diffusion_kappa_mean(kw):
    m = SGDPhaseSpace(**kw)
    hyper = dict(lr=m.lr, momentum=m.momentum)
    A = sgd_sde.drift_matrix(m.H, weight_decay=m.weight_decay, **hyper)
    Dm = sgd_sde.diffusion_matrix(m.noise_cov, **hyper)
    # same products of the same inputs: a few eps relative to the largest entry
    np.testing.assert_allclose(m.ou.A, A, rtol=0, atol=8 * EPS * np.max(np.abs(A)))
    np.testing.assert_allclose(m.ou.D, Dm, rtol=0, atol=8 * EPS * np.max(np.abs(Dm)))
    # S (1 - beta^2) against the derived S (1 - beta)(1 + beta): 1 - beta^2 carries relative
    # rounding eps / (1 - beta^2) (cancellation as beta -> 1), 1 - beta none (Sterbenz)
    kap = sgd_sde.kappa(momentum=m.momentum, batch_size=m.batch_size)
    assert abs(m.ou.kappa - kap) <= 4 * EPS * (1 + 1 / (1 - m.momentum**2)) * kap
    # dynlab solves for mu through eigh, theory through LU: each has forward error
    # eps cond(H + lambda I)
    ref = sgd_sde.stationary_mean(m.H, m.b, weight_decay=m.weight_decay)
    cond = np.linalg.cond(m.H + m.weight_decay * np.eye(D))
    assert np.linalg.norm(m.ou.mu - ref) <= 8 * D * EPS * cond * np.linalg.norm(ref)


@given(sgd_setups(D))
def test_lyapunov_any_noise(kw):
    m = SGDPhaseSpace(**kw)
    w, q = eig(m.H)
    blocks = ou_mode.pair_lyapunov(
        w, q.T @ m.noise_cov @ q, lr=m.lr, momentum=m.momentum, weight_decay=m.weight_decay
    )
    B = ou_mode.phase_space_matrix(q, blocks)
    # both are backward-stable evaluations of B(H, Sigma): forward error
    # <= eps cond(Lyapunov operator)
    tol = 8 * 2 * D * EPS * lyap_cond(m.ou.A)
    assert np.linalg.norm(m.lyapunov() - B, 2) <= tol * np.linalg.norm(B, 2)
    assert np.linalg.norm(m.ou.lyapunov() - B, 2) <= tol * np.linalg.norm(B, 2)
    assert (
        np.linalg.norm(m.stationary_cov() - B / m.kappa, 2) <= tol * np.linalg.norm(B, 2) / m.kappa
    )


@given(sgd_setups(D, noise="scalar"))
def test_decomposition_modified_loss_and_current(kw):
    m = SGDPhaseSpace(**kw)
    w, q = eig(m.H)
    sigma2 = np.einsum("ij,ik,kj->j", q, m.noise_cov, q)
    Qm, Um = ou_mode.mode_decomposition(
        w, sigma2, lr=m.lr, momentum=m.momentum, weight_decay=m.weight_decay
    )
    Q, U = ou_mode.phase_space_matrix(q, Qm), ou_mode.phase_space_matrix(q, Um)
    Qd, Ud = m.decompose()
    # U = diag(c1 (H + lambda) Sigma^-1, Sigma^-1) is a product of eigendecompositions of H:
    # forward error eps cond(Sigma) cond(H + lambda I) relative to ||U||
    cond = np.linalg.cond(m.noise_cov) * np.linalg.cond(m.H + m.weight_decay * np.eye(D))
    assert np.linalg.norm(Ud - U, 2) <= 16 * D * EPS * cond * np.linalg.norm(U, 2)
    assert np.linalg.norm(Qd - Q, 2) <= 16 * D * EPS * np.linalg.norm(Q, 2)
    # points a few standard deviations from the mean (so p_ss neither under- nor overflows),
    # drawn with the derived stationary covariance B / kappa = U^-1 / kappa
    Bm = ou_mode.mode_stationary_cov(
        w,
        sigma2,
        lr=m.lr,
        momentum=m.momentum,
        weight_decay=m.weight_decay,
        batch_size=m.batch_size,
    )
    xi = np.random.default_rng(0).standard_normal((5, 2, D)) * np.sqrt(
        np.stack([Bm[:, 0, 0], Bm[:, 1, 1]])
    )
    theta, v = m.mu + xi[:, 0] @ q.T, xi[:, 1] @ q.T  # modal coordinates are independent here
    z = np.concatenate([theta - m.mu, v], axis=-1)
    psi = 0.5 * np.einsum("ni,ij,nj->n", z, U, z)
    # Psi is a quadratic form: error <= eps cond * |z|^2 ||U||
    scale = np.linalg.norm(U, 2) * np.sum(z * z, axis=-1)
    assert np.all(np.abs(m.modified_loss(theta, v) - psi) <= 8 * D * EPS * cond * scale)
    # the current's field J / p_ss = -Q U (x - mu), derived from the Fokker-Planck equation
    x = np.concatenate([theta, v], axis=-1)
    field = m.ou.current(x) / m.ou.stationary_density(x)[:, None]
    ref = -(z @ (Q @ U).T)
    # OUProcess takes the general route (Schur-solved B, U = B^-1, Q = A B - D), and
    # Q U = A - D B^-1 inherits B's forward error eps cond(Lyapunov operator), relative to ||Q U||
    tol = (
        16
        * D
        * EPS
        * lyap_cond(m.ou.A)
        * np.linalg.norm(Q @ U, 2)
        * np.linalg.norm(z, axis=-1, keepdims=True)
    )
    assert np.all(np.abs(field - ref) <= tol)


@given(sgd_setups(D))
def test_mode_variances_sde(kw):
    m = SGDPhaseSpace(**kw)
    w, q = eig(m.H)
    sigma2 = np.einsum("ij,ik,kj->j", q, m.noise_cov, q)
    hyper = dict(lr=m.lr, momentum=m.momentum, weight_decay=m.weight_decay, batch_size=m.batch_size)
    C = ou_mode.mode_stationary_cov(w, sigma2, **hyper)
    var_t, var_v, cov = modes.stationary_mode_variances(w, sigma2, **hyper)
    # closed forms of the same inputs: a few operations, eps-level relative error
    np.testing.assert_allclose(var_t, C[:, 0, 0], rtol=16 * EPS)
    np.testing.assert_allclose(var_v, C[:, 1, 1], rtol=16 * EPS)
    np.testing.assert_array_equal(cov, C[:, 0, 1])  # both exactly 0


@given(sgd_setups(D))
def test_mode_parameters(kw):
    m = SGDPhaseSpace(**kw)
    g, w, zeta = oscillator.mode_parameters(
        m.rho, lr=m.lr, momentum=m.momentum, weight_decay=m.weight_decay
    )
    # a quotient and a square root: a few eps
    np.testing.assert_allclose(m.modes.gamma, g, rtol=8 * EPS)
    np.testing.assert_allclose(m.modes.omega, w, rtol=8 * EPS)
    np.testing.assert_allclose(m.modes.zeta, zeta, rtol=8 * EPS)


def _oscillator_inputs():
    return st.tuples(
        st.floats(0.01, 10.0),  # gamma
        st.floats(0.01, 10.0),  # omega
        st.floats(0.0, 5.0),  # t
        st.floats(-3.0, 3.0),  # a0
        st.floats(-3.0, 3.0),  # b0
    )


@given(_oscillator_inputs(), st.booleans())
def test_oscillator_mean(args, critical):
    gamma, omega, t, a0, b0 = args
    if critical:
        omega = gamma
    a, b = oscillator.mean(t, gamma, omega, a0, b0)
    ad, bd = modes.oscillator_mean(t, gamma, omega, a0, b0)
    # a = e^{-gamma t}[a0 C + (gamma a0 + b0) S], b = e^{-gamma t}[b0 C - (omega^2 a0 + gamma b0) S]
    # are sums of terms of the sizes below; rounding of the inputs propagates with factor
    # (gamma + alpha) t through exp/cosh arguments and (gamma^2 + omega^2) t^2 through alpha,
    # whose radicand gamma^2 - omega^2 cancels near critical damping
    alpha = np.sqrt(abs(gamma**2 - omega**2))
    C = np.cosh(alpha * t) if gamma >= omega else np.cos(alpha * t)
    S = t if alpha == 0 else (np.sinh(alpha * t) if gamma >= omega else np.sin(alpha * t)) / alpha
    e = np.exp(-gamma * t)
    size_a = e * (abs(a0 * C) + abs(gamma * a0 + b0) * abs(S))
    size_b = e * (abs(b0 * C) + abs(omega**2 * a0 + gamma * b0) * abs(S)) + gamma * size_a
    amp = 1 + (gamma + alpha) * t + (gamma**2 + omega**2) * t**2
    assert abs(a - ad) <= 16 * EPS * amp * size_a
    assert abs(b - bd) <= 16 * EPS * amp * size_b


@given(st.floats(0.01, 10.0), st.floats(0.01, 10.0), st.floats(0.0, 5.0))
def test_transition_matrix(gamma, omega, t):
    E = oscillator.transition_matrix(t, gamma, omega)
    p11, p12, p21, p22 = modes.mode_propagator(t, gamma, omega)
    got = np.array([[p11, p12], [p21, p22]])
    # as in test_oscillator_mean, with unit initial data
    tol = 8 * EPS * (1 + (gamma + omega) * t) ** 2 * (1 + omega**2) * max(1.0, np.max(np.abs(E)))
    assert np.max(np.abs(got - E)) <= tol


@given(sgd_setups(D))
def test_sde_frequencies(kw):
    m = SGDPhaseSpace(**kw)
    g, w, _ = oscillator.mode_parameters(
        m.rho, lr=m.lr, momentum=m.momentum, weight_decay=m.weight_decay
    )
    gap = (w - g) * (w + g)
    ref = m.lr * np.sqrt(np.clip(gap, 0.0, None)) / (2 * np.pi)
    got = modes.mode_frequencies(m.rho, lr=m.lr, momentum=m.momentum, weight_decay=m.weight_decay)
    # sqrt(omega^2 - gamma^2): absolute error eps omega^2 in the radicand, so
    # eps omega^2 / sqrt(gap) after the root (bounded by sqrt(eps) omega at the critical point)
    err = 8 * EPS * w**2 / np.sqrt(np.maximum(np.abs(gap), EPS * w**2)) * m.lr / (2 * np.pi)
    assert np.all(np.abs(got - ref) <= err + 8 * EPS * ref)


@given(sgd_setups(D))
def test_speed_sde(kw):
    m = SGDPhaseSpace(**kw)
    w, q = eig(m.H)
    sigma2 = np.einsum("ij,ik,kj->j", q, m.noise_cov, q)
    ref = diffusion.speed(w, sigma2, lr=m.lr, momentum=m.momentum, batch_size=m.batch_size)
    # a sum of positive terms; sigma2 from two different eigenbases: d eps relative
    assert abs(m.speed() - ref) <= 16 * D * EPS * ref


#: H = I up to the rounding of Q I Q^T (eigenvalues 1 - 6.7e-16, 1 - 1.1e-16, 1): with lr = 0.5
#: and momentum = 0 every mode sits at critical damping (gamma = omega = 2) but on the over- or
#: underdamped side by a rounding, where the derived closed forms cancel ~8 digits in float64.
H_ROUNDED_IDENTITY = np.array(
    [
        [0.9999999999999997, -5.294085843749529e-17, -3.4858096964533165e-16],
        [-5.294085843749529e-17, 1.0, -7.094207318520958e-17],
        [-3.4858096964533165e-16, -7.094207318520958e-17, 0.9999999999999996],
    ]
)
#: digits for the reference: the closed forms cancel up to -2 log10(alpha t) ~ 16 digits near
#: critical damping (alpha^2 is a rounding of gamma^2), so 40 leave > 20 correct
REFERENCE_DPS = 40


@given(sgd_setups(D), st.floats(0.0, 3.0))
@example(
    dict(
        H=H_ROUNDED_IDENTITY,
        b=np.array([0.12573022, -0.13210486, 0.64042265]),
        lr=0.5,
        momentum=0.0,
        weight_decay=0.0,
        batch_size=1,
        noise_cov=("hessian", 1.0),
    ),
    0.0,
)
def test_displacement_and_exponent_sde(kw, log10_k):
    m = SGDPhaseSpace(**kw)
    k = np.array([10.0**log10_k])
    w, q = eig(m.H)
    sigma2 = np.einsum("ij,ik,kj->j", q, m.noise_cov, q)
    hyper = dict(lr=m.lr, momentum=m.momentum, weight_decay=m.weight_decay, batch_size=m.batch_size)
    t = m.lr * k
    # the derived closed forms, evaluated in mpmath: in float64 they cancel near critical damping
    ref = diffusion.displacement(t, w, sigma2, dps=REFERENCE_DPS, **hyper)
    g, om, _ = oscillator.mode_parameters(
        w, lr=m.lr, momentum=m.momentum, weight_decay=m.weight_decay
    )
    var_t = ou_mode.mode_stationary_cov(w, sigma2, **hyper)[:, 0, 0]
    # D = 2 sum Var_i (1 - phi_11,i(t)): the derived form subtracts from 2 Var_i, so its absolute
    # error is eps (1 + gamma t)^2 (1 + omega t) 2 sum Var_i (exp's argument, alpha's radicand;
    # see the oscillator test)
    grow = np.max((1 + g * t) ** 2 * (1 + om * t))
    base = EPS * grow * 2 * np.sum(var_t)
    assert abs(m.displacement(steps=k)[0] - ref[0]) <= 16 * base
    assume(ref[0] > 1e6 * base)
    c = diffusion.diffusion_exponent(t, w, sigma2, dps=REFERENCE_DPS, **hyper)
    # c = t D'/D: relative error of D (base / D) plus that of D' (same order), times |c| + 1
    assert abs(m.diffusion_exponent(steps=k)[0] - c[0]) <= 16 * (base / ref[0]) * (
        abs(c[0]) + 1
    ) * (1 + np.max(om * t))


@given(sgd_setups(D))
def test_mean_trajectory_sde(kw):
    m = SGDPhaseSpace(**kw)
    rng = np.random.default_rng(1)
    theta0, v0 = rng.standard_normal(D), rng.standard_normal(D)
    k = np.array([0.0, 1.0, 7.0, 50.0])
    th, v = m.mean(steps=k, theta0=theta0, v0=v0)
    a0, b0 = m.q.T @ (theta0 - m.mu), m.q.T @ v0
    g, w, _ = oscillator.mode_parameters(
        m.rho, lr=m.lr, momentum=m.momentum, weight_decay=m.weight_decay
    )
    t = m.lr * k[:, None]
    a, b = oscillator.mean(t, g, w, a0, b0)
    th_ref, v_ref = m.mu + a @ m.q.T, b @ m.q.T
    # per mode as in test_oscillator_mean, then a rotation by q (d eps)
    grow = (1 + (g + w) * t) ** 2 * (1 + w**2)
    scale = np.max(
        grow * (np.abs(a0) + np.abs(b0) / np.maximum(w, 1e-300) + np.abs(b0) * t), axis=-1
    )
    assert np.all(
        np.linalg.norm(th - th_ref, axis=-1) <= 8 * D * EPS * (scale + np.linalg.norm(m.mu))
    )
    assert np.all(np.linalg.norm(v - v_ref, axis=-1) <= 8 * D * EPS * scale * (1 + np.max(w)))


@given(sgd_setups(D))
def test_equipartition_sde(kw):
    m = SGDPhaseSpace(**kw)
    e = m.equipartition()
    kin = equipartition.expected_kinetic(
        m.noise_cov, lr=m.lr, momentum=m.momentum, batch_size=m.batch_size
    )
    # both sides equal lr tr Sigma / (4 S (1 - beta)) for any Sigma (derived): sums of positive
    # terms (no cancellation) computed in two eigenbases, d eps relative
    assert abs(e.kinetic - kin) <= 16 * D * EPS * kin
    assert abs(e.potential - kin) <= 16 * D * EPS * kin


@given(sgd_setups(D))
def test_expected_training_loss_constant(kw):
    # E L_lambda from dynlab's stationary moments against the corrected G.3 constant:
    # L_lambda(theta) = 1/2 (theta - m)^T H (theta - m) + lambda/2 |theta|^2 with H m = b
    m = SGDPhaseSpace(**kw)
    cond = np.linalg.cond(m.H)
    assume(cond < 1e3)
    mt = np.linalg.solve(m.H, m.b)
    var = m.stationary_cov()[:D, :D]
    K = m.H + m.weight_decay * np.eye(D)
    mu = m.mu
    e_loss = 0.5 * np.trace(K @ (var + np.outer(mu, mu))) - mt @ m.H @ mu + 0.5 * mt @ m.H @ mt
    ref = equipartition.expected_loss(
        m.H,
        mt,
        m.noise_cov,
        lr=m.lr,
        momentum=m.momentum,
        weight_decay=m.weight_decay,
        batch_size=m.batch_size,
    )
    # the moment form cancels terms of size |K| |mu|^2 + |H| |m|^2 against each other:
    # absolute error eps cond(H) times those
    scale = np.linalg.norm(K, 2) * (mu @ mu + np.trace(var)) + np.linalg.norm(m.H, 2) * (mt @ mt)
    assert abs(e_loss - ref) <= 8 * D * EPS * cond * scale


@given(sgd_setups(D), st.integers(1, 300))
def test_displacement_eq13_as_printed(kw, k):
    # the paper's step sum of SDE velocity correlations, summed in closed form by sympy and
    # evaluated in 30-digit mpmath (the closed form cancels in float64 when lr |x| k is small)
    m = SGDPhaseSpace(**kw)
    w, q = eig(m.H)
    sigma2 = np.einsum("ij,ik,kj->j", q, m.noise_cov, q)
    ref = float(
        diffusion.displacement_eq13(
            k,
            w,
            sigma2,
            lr=m.lr,
            momentum=m.momentum,
            weight_decay=m.weight_decay,
            batch_size=m.batch_size,
            dps=30,
        )
    )
    # dynlab sums the terms with cumulative sums: rounding a few eps times the sum of |terms|,
    # which is at most lr^2 k^2 sum_l C_l(0) = lr^2 k^2 tr Sigma / kappa
    tol = 16 * EPS * (m.lr * k) ** 2 * np.sum(sigma2) / m.kappa
    assert abs(m.displacement_eq13(steps=np.array([k]))[0] - ref) <= tol
