"""Slow, obviously-correct references for the integrator zoo: one path, one step at a time.

Each step is written out from its source (PyTorch's documented update rules, seed 000 eqs. 2-4
and 7, seed 003 eq. 3 with the coefficients of docs/theory.md, the textbook schemes) in plain
numpy, fed with the same standard normals and minibatch rows as a kernel run
(``run(..., normals=..., batches=...)``). Nothing here imports ``dynlab.integrators``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from dynlab.models import LinearRegressionProblem


def sqrt_psd(S):
    """Principal square root of a PSD matrix (scipy's Schur method, independent of eigh)."""
    return np.real(scipy.linalg.sqrtm(S))


class StepGradient:
    """The stochastic gradient of one path at one step: fixed minibatch rows and noise ``xi``."""

    def __init__(self, problem, batch=None, xi=None):
        self.problem = problem
        d = problem.d
        if isinstance(problem, LinearRegressionProblem) and batch is not None:
            X = problem.X[batch]
            y = problem.Y[batch]
            self.H = X.T @ X / len(batch)
            self.b = X.T @ y / len(batch)
        else:
            self.H = problem.H
            self.b = problem.b
        self.xi = np.zeros(d) if xi is None else xi

    def __call__(self, theta):
        return self.H @ theta - self.b + self.xi


def loss(problem, theta):
    """Full-batch loss from its definition (data residuals for a linear regression)."""
    if isinstance(problem, LinearRegressionProblem):
        r = problem.X @ theta - problem.Y
        return 0.5 * np.mean(r * r)
    return 0.5 * theta @ problem.H @ theta - problem.b @ theta + problem.c


def energy(problem, theta, p, inv_mass, weight_decay):
    """``1/2 p^T M^-1 p + L(theta) + weight_decay / 2 |theta|^2``."""
    return (
        0.5 * np.sum(inv_mass * p * p) + loss(problem, theta) + 0.5 * weight_decay * theta @ theta
    )


def sde_coefficients(lr, momentum, batch_size):
    """Kunin et al. 2021, arXiv:2107.09133, eqs. 3-4: c1 = 2 / (lr (1 + beta)),
    c2 = 2 (1 - beta) / (lr (1 + beta)), kappa = S (1 - beta^2)."""
    c1 = 2.0 / (lr * (1.0 + momentum))
    c2 = 2.0 * (1.0 - momentum) / (lr * (1.0 + momentum))
    return c1, c2, batch_size * (1.0 - momentum**2)


# -- discrete optimizers (torch.optim documentation, buf = -v) ---------------------------------


def sgd_step(theta, v, grad, *, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
    g = grad(theta) + weight_decay * theta
    buf = momentum * (-v) + g
    step = g + momentum * buf if nesterov else buf
    return theta - lr * step, -buf


def adam_step(theta, v, s, grad, t, *, lr, betas, eps, weight_decay, decoupled):
    g = grad(theta)
    if decoupled:
        theta = theta * (1.0 - lr * weight_decay)
    else:
        g = g + weight_decay * theta
    m = betas[0] * (-v) + (1.0 - betas[0]) * g
    s = betas[1] * s + (1.0 - betas[1]) * g * g
    bc1 = 1.0 - betas[0] ** t
    bc2 = 1.0 - betas[1] ** t
    theta = theta - (lr / bc1) * m / (np.sqrt(s) / np.sqrt(bc2) + eps)
    return theta, -m, s


# -- Hamiltonian flow theta' = M^-1 p, p' = -grad V - gamma p -----------------------------------


def leapfrog_step(theta, p, grad_V, *, dt, inv_mass):
    p_half = p - 0.5 * dt * grad_V(theta)
    theta = theta + dt * inv_mass * p_half
    return theta, p_half - 0.5 * dt * grad_V(theta)


def symplectic_euler_step(theta, p, grad_V, *, dt, inv_mass):
    p = p - dt * grad_V(theta)
    return theta + dt * inv_mass * p, p


def damped_leapfrog_step(theta, p, grad_V, V, *, dt, inv_mass, friction, cap, H0, eps=1e-12):
    """Seed 000 eqs. 2-4, then the cap of eq. 7; returns (theta, p, capped)."""
    p_half = np.exp(-friction * dt / 2) * p - dt / 2 * grad_V(theta)
    theta = theta + dt * inv_mass * p_half
    p = np.exp(-friction * dt / 2) * p_half - dt / 2 * grad_V(theta)
    if cap is None:
        return theta, p, False
    K = 0.5 * np.sum(inv_mass * p * p)
    if K + V(theta) > cap * H0:
        p = p * np.sqrt(max(eps, cap * H0 - V(theta)) / max(eps, K))
        return theta, p, True
    return theta, p, False


def explicit_euler_step(theta, p, grad_V, *, dt, inv_mass, friction):
    return theta + dt * inv_mass * p, p - dt * (grad_V(theta) + friction * p)


def rk4_step(theta, p, grad_V, *, dt, inv_mass, friction):
    def f(z):
        th, pp = np.split(z, 2)
        return np.concatenate([inv_mass * pp, -grad_V(th) - friction * pp])

    z = np.concatenate([theta, p])
    k1 = f(z)
    k2 = f(z + dt / 2 * k1)
    k3 = f(z + dt / 2 * k2)
    k4 = f(z + dt * k3)
    return np.split(z + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4), 2)


def implicit_midpoint_step(theta, p, H, c, *, dt, inv_mass):
    """Exact solve of ``z1 = z0 + dt f((z0 + z1)/2)`` for the affine field
    ``f(z) = J z + [0; -c]``, ``J = [[0, diag(inv_mass)], [-H, 0]]`` (``grad V = H theta + c``)."""
    d = theta.shape[0]
    J = np.block([[np.zeros((d, d)), np.diag(inv_mass)], [-H, np.zeros((d, d))]])
    z0 = np.concatenate([theta, p])
    rhs = z0 + dt * (J @ z0) / 2 + dt * np.concatenate([np.zeros(d), -c])
    z1 = np.linalg.solve(np.eye(2 * d) - dt * J / 2, rhs)
    return np.split(z1, 2)


# -- Langevin SDE of seed 003 eq. 3 --------------------------------------------------------


def euler_maruyama_step(theta, v, grad_V, z, *, dt, c1, c2, kappa, sqrt_sigma):
    noise = np.sqrt(2 * c2 * dt / kappa) * (sqrt_sigma @ z)
    return theta + dt * v, v - dt * (c1 * grad_V(theta) + c2 * v) + noise


def _o_step(v, z, h, c2, kappa, sqrt_sigma):
    """Exact OU flow of dv = -c2 v dt + sqrt(2 c2 / kappa) Sigma^{1/2} dW over time h."""
    return np.exp(-c2 * h) * v + np.sqrt((1 - np.exp(-2 * c2 * h)) / kappa) * (sqrt_sigma @ z)


def baoab_step(theta, v, grad_V, z, *, dt, c1, c2, kappa, sqrt_sigma):
    v = v - dt / 2 * c1 * grad_V(theta)
    theta = theta + dt / 2 * v
    v = _o_step(v, z[0], dt, c2, kappa, sqrt_sigma)
    theta = theta + dt / 2 * v
    return theta, v - dt / 2 * c1 * grad_V(theta)


def obabo_step(theta, v, grad_V, z, *, dt, c1, c2, kappa, sqrt_sigma):
    v = _o_step(v, z[0], dt / 2, c2, kappa, sqrt_sigma)
    v = v - dt / 2 * c1 * grad_V(theta)
    theta = theta + dt * v
    v = v - dt / 2 * c1 * grad_V(theta)
    return theta, _o_step(v, z[1], dt / 2, c2, kappa, sqrt_sigma)


def exact_ou_transition(problem, *, lr, momentum=0.0, weight_decay=0.0, batch_size=1, dt=None):
    """``(Phi, C, mu_z)`` of seed 003 eq. 4 from its A, D: ``Phi = expm(-A dt)``,
    ``C = (B - Phi B Phi^T) / kappa`` with ``A B + B A^T = 2 D`` (scipy's Bartels-Stewart)."""
    d = problem.d
    dt = lr if dt is None else dt
    c1, c2, kappa = sde_coefficients(lr, momentum, batch_size)
    K = problem.H + weight_decay * np.eye(d)
    I, Z = np.eye(d), np.zeros((d, d))
    A = np.block([[Z, -I], [c1 * K, c2 * I]])
    D = np.block([[Z, Z], [Z, c2 * problem.noise_cov]])
    B = scipy.linalg.solve_continuous_lyapunov(A, 2 * D)
    Phi = scipy.linalg.expm(-A * dt)
    return (
        Phi,
        (B - Phi @ B @ Phi.T) / kappa,
        np.concatenate([np.linalg.solve(K, problem.b), np.zeros(d)]),
    )


# -- driver ----------------------------------------------------------------------------


def naive_run(scheme, problem, theta0, v0, normals, batches, *, noise_cov=None, **hyper):
    """Trajectories of ``scheme`` for every path: arrays ``(n_steps + 1, M, d)`` for theta, v.

    ``normals`` (n_steps, n_slots, M, dn) and ``batches`` (n_steps, M, S) or None are the draws
    a kernel run consumed; ``noise_cov`` is the per-sample gradient-noise covariance Sigma of
    the minibatch schemes (the quadratic's ``noise_cov`` or a regression's extra noise).
    """
    n_steps, _, M, _ = normals.shape
    d = problem.d
    theta = np.array(theta0, dtype=float).reshape(M, d).copy()
    v = np.array(v0, dtype=float).reshape(M, d).copy()
    out_t = [theta.copy()]
    out_v = [v.copy()]
    extra = np.zeros((M, d))
    wd = hyper.get("weight_decay", 0.0)
    inv_mass = np.broadcast_to(np.asarray(hyper.get("inv_mass", 1.0), dtype=float), (d,))
    H0 = [energy(problem, theta[i], v[i], inv_mass, wd) for i in range(M)]
    caps = np.zeros((n_steps, M), dtype=int)
    if scheme == "exact_ou":
        Phi, C, mu_z = exact_ou_transition(problem, **hyper)
        root = sqrt_psd(C)
        for k in range(n_steps):
            for i in range(M):
                z = mu_z + Phi @ (np.concatenate([theta[i], v[i]]) - mu_z) + root @ normals[k, 0, i]
                theta[i], v[i] = np.split(z, 2)
            out_t.append(theta.copy())
            out_v.append(v.copy())
        return np.array(out_t), np.array(out_v), caps
    sde = scheme in ("euler_maruyama", "baoab", "obabo")
    if sde:
        c1, c2, kappa = sde_coefficients(
            hyper["lr"], hyper.get("momentum", 0.0), hyper.get("batch_size", 1)
        )
        dt = hyper.get("dt") or hyper["lr"]
        root = sqrt_psd(problem.noise_cov)
    elif noise_cov is not None:
        root = sqrt_psd(noise_cov) / np.sqrt(hyper.get("batch_size", 1))
    for k in range(n_steps):
        for i in range(M):
            th, vv = theta[i], v[i]
            if sde:
                g = StepGradient(problem)

                def grad_V(x, g=g):
                    return g(x) + wd * x

                step = {
                    "euler_maruyama": euler_maruyama_step,
                    "baoab": baoab_step,
                    "obabo": obabo_step,
                }[scheme]
                z = normals[k, :, i] if scheme != "euler_maruyama" else normals[k, 0, i]
                theta[i], v[i] = step(
                    th, vv, grad_V, z, dt=dt, c1=c1, c2=c2, kappa=kappa, sqrt_sigma=root
                )
                continue
            batch = None if batches is None or scheme == "gd" else batches[k, i]
            xi = None if noise_cov is None or scheme == "gd" else root @ normals[k, 0, i]
            grad = StepGradient(problem, batch, xi) if scheme != "gd" else StepGradient(problem)

            def grad_V(x, grad=grad):
                return grad(x) + wd * x

            if scheme in ("gd", "sgd", "heavy_ball", "nesterov"):
                theta[i], v[i] = sgd_step(
                    th,
                    vv,
                    grad,
                    lr=hyper["lr"],
                    momentum=hyper.get("momentum", 0.0),
                    weight_decay=wd,
                    nesterov=scheme == "nesterov",
                )
            elif scheme in ("adam", "adamw"):
                theta[i], v[i], extra[i] = adam_step(
                    th,
                    vv,
                    extra[i],
                    grad,
                    k + 1,
                    lr=hyper["lr"],
                    betas=hyper.get("betas", (0.9, 0.999)),
                    eps=hyper.get("eps", 1e-8),
                    weight_decay=wd,
                    decoupled=scheme == "adamw",
                )
            elif scheme == "leapfrog":
                theta[i], v[i] = leapfrog_step(th, vv, grad_V, dt=hyper["dt"], inv_mass=inv_mass)
            elif scheme == "symplectic_euler":
                theta[i], v[i] = symplectic_euler_step(
                    th, vv, grad_V, dt=hyper["dt"], inv_mass=inv_mass
                )
            elif scheme == "damped_leapfrog":

                def V(x):
                    return loss(problem, x) + 0.5 * wd * x @ x

                theta[i], v[i], caps[k, i] = damped_leapfrog_step(
                    th,
                    vv,
                    grad_V,
                    V,
                    dt=hyper["dt"],
                    inv_mass=inv_mass,
                    friction=hyper.get("friction", 1e-3),
                    cap=hyper.get("cap"),
                    H0=H0[i],
                )
            elif scheme == "explicit_euler":
                theta[i], v[i] = explicit_euler_step(
                    th,
                    vv,
                    grad_V,
                    dt=hyper["dt"],
                    inv_mass=inv_mass,
                    friction=hyper.get("friction", 0.0),
                )
            elif scheme == "rk4":
                theta[i], v[i] = rk4_step(
                    th,
                    vv,
                    grad_V,
                    dt=hyper["dt"],
                    inv_mass=inv_mass,
                    friction=hyper.get("friction", 0.0),
                )
            elif scheme == "implicit_midpoint":
                Hw = grad.H + wd * np.eye(d)
                theta[i], v[i] = implicit_midpoint_step(
                    th, vv, Hw, -grad.b + grad.xi, dt=hyper["dt"], inv_mass=inv_mass
                )
            else:
                raise KeyError(scheme)
        out_t.append(theta.copy())
        out_v.append(v.copy())
    return np.array(out_t), np.array(out_v), caps


# -- minibatch rows of a linear regression ---------------------------------------------------


class Xoshiro256:
    """xoshiro256** on Python integers, from the reference C code (Blackman & Vigna 2018)."""

    MASK = (1 << 64) - 1

    def __init__(self, state):
        self.s = [int(w) for w in state]

    def _rotl(self, x, k):
        return ((x << k) | (x >> (64 - k))) & self.MASK

    def next(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & self.MASK, 7) * 9) & self.MASK
        t = (s[1] << 17) & self.MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def below(self, n):
        """Uniform on [0, n): outputs below 2**64 mod n are rejected, then modulo n."""
        threshold = (1 << 64) % n
        x = self.next()
        while x < threshold:
            x = self.next()
        return x % n


def sampled_batches(states, N, S, n_steps, sampling):
    """Minibatch rows ``(n_steps, M, S)`` drawn path by path from the generator states.

    ``"reshuffle"``: Fisher-Yates (Durstenfeld) of the path's permutation at the first step and
    whenever fewer than S rows are left, then the next S entries; ``"with_replacement"``: S
    uniform rows; ``"without_replacement"``: the first S steps of a Fisher-Yates shuffle of the
    path's permutation (which carries over from step to step).
    """
    M = len(states)
    out = np.zeros((n_steps, M, S), dtype=np.int64)
    for i in range(M):
        gen = Xoshiro256(states[i])
        perm = list(range(N))
        pos = N
        for k in range(n_steps):
            if sampling == "with_replacement":
                out[k, i] = [gen.below(N) for _ in range(S)]
            elif sampling == "without_replacement":
                for r in range(S):
                    j = r + gen.below(N - r)
                    perm[r], perm[j] = perm[j], perm[r]
                out[k, i] = perm[:S]
            elif sampling == "reshuffle":
                if pos + S > N:
                    for a in range(N - 1, 0, -1):
                        j = gen.below(a + 1)
                        perm[a], perm[j] = perm[j], perm[a]
                    pos = 0
                out[k, i] = perm[pos : pos + S]
                pos += S
            else:
                raise KeyError(sampling)
    return out
