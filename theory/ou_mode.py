r"""One Hessian eigenmode of the SGD OU process: Lyapunov, A = (D + Q) U, Psi, Fokker-Planck.

Seed 003 eqs. 8-11 and appendices D, F.1. When Sigma commutes with H (Assumption 3), the drift
and diffusion derived in :mod:`theory.sgd_sde` split along each eigenvector q of H (eigenvalue
rho, noise variance s = q^T Sigma q) into the 2 x 2 blocks

    A_i = [[0, -1], [c1 (rho + lambda), c2]],    D_i = [[0, 0], [0, c2 s]],

for the coordinates x = (<theta - mu, q>, <v, q>). :func:`derive` then

1. solves the Lyapunov equation ``A B + B A^T = 2 D`` as a linear system in the three entries
   of the symmetric B;
2. sets ``U = B^{-1}`` and ``Q = A B - D`` (the general route: it does not assume A symmetric);
3. forms the modified potential ``Psi = x^T U x / 2`` and the Gibbs law ``p = exp(-kappa Psi)``,
   applies the Fokker-Planck operator of ``dx = -A x dt + sqrt(2 D / kappa) dW`` to it, and
   computes the stationary probability current ``J = -A x p - kappa^{-1} D grad p``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy as sp

from . import sgd_sde
from ._claims import Outcome, run_claims, vanishes
from ._matexpr import over_modes, over_pairs
from ._symbols import batch_size, lr, momentum, momentum_below_one, rho, s, weight_decay

__all__ = [
    "NAME",
    "Derivation",
    "derive",
    "verify",
    "mode_lyapunov",
    "mode_decomposition",
    "mode_stationary_cov",
    "pair_lyapunov",
    "phase_space_matrix",
]

NAME = "mode block: Lyapunov, A=(D+Q)U, FP (003 eq. 8-11)"


@dataclass(frozen=True)
class Derivation:
    """Results of :func:`derive` for one mode (symbols rho, s, lr, momentum, weight_decay)."""

    A: sp.Matrix
    D: sp.Matrix
    kappa: sp.Expr
    lyapunov_system: sp.Matrix  # 3 x 3 matrix of the linear system for (B11, B12, B22)
    B: sp.Matrix
    U: sp.Matrix
    Q: sp.Matrix
    x: sp.Matrix  # (a, w): displacement from mu and velocity along q
    Psi: sp.Expr
    p: sp.Expr  # unnormalized Gibbs law exp(-kappa Psi)
    fokker_planck: sp.Expr  # (FP operator applied to p) / p
    J: sp.Matrix  # stationary current
    pair_B: sp.Matrix  # cross block B_ij of modes i, j (symbols rho_i, rho_j, s_ij) for any Sigma


@cache
def derive() -> Derivation:
    """Derive B, U, Q, Psi and the stationary current of one mode (see module doc)."""
    sde = sgd_sde.derive()
    A = sp.Matrix([[0, -1], [sde.c1 * (rho + weight_decay), sde.c2]])
    D = sp.Matrix([[0, 0], [0, sde.c2 * s]])
    kappa = sde.kappa
    b11, b12, b22 = sp.symbols("B11 B12 B22")
    B = sp.Matrix([[b11, b12], [b12, b22]])
    residual = A * B + B * A.T - 2 * D
    eqs = [residual[0, 0], residual[0, 1], residual[1, 1]]
    system, rhs = sp.linear_eq_to_matrix(eqs, [b11, b12, b22])
    sol = sp.solve(eqs, [b11, b12, b22], dict=True)
    if len(sol) != 1:
        raise ArithmeticError("the Lyapunov equation has no unique solution")
    B = B.subs(sol[0]).applyfunc(sp.factor)
    U = B.inv().applyfunc(sp.factor)
    Q = (A * B - D).applyfunc(sp.factor)
    a, w = sp.symbols("a w", real=True)
    x = sp.Matrix([a, w])
    Psi = sp.expand((x.T * U * x)[0] / 2)
    p = sp.exp(-kappa * Psi)
    grad_p = sp.Matrix([p.diff(a), p.diff(w)])
    flux = A * x * p + D * grad_p / kappa  # FP: dp/dt = div(A x p + kappa^{-1} D grad p)
    fp = sp.expand(sp.powsimp((flux[0].diff(a) + flux[1].diff(w)) / p))
    J = -flux
    return Derivation(A, D, kappa, system, B, U, Q, x, Psi, p, fp, J, _pair(sde))


rho_i, rho_j = sp.symbols("rho_i rho_j", positive=True)
s_ij = sp.Symbol("s_ij", real=True)


def _pair(sde) -> sp.Matrix:
    """Cross block B_ij of modes i, j: ``A_i B_ij + B_ij A_j^T = 2 D_ij`` (4 unknowns), any Sigma.

    In the eigenbasis of H the Lyapunov equation of the full 2d x 2d system splits into one
    such equation per pair (i, j), with ``D_ij = [[0, 0], [0, c2 q_i^T Sigma q_j]]``.
    """

    def block(r):
        return sp.Matrix([[0, -1], [sde.c1 * (r + weight_decay), sde.c2]])

    X = sp.Matrix(2, 2, sp.symbols("X11 X12 X21 X22"))
    Dij = sp.Matrix([[0, 0], [0, sde.c2 * s_ij]])
    res = block(rho_i) * X + X * block(rho_j).T - 2 * Dij
    sol = sp.solve(list(res), list(X), dict=True)
    if len(sol) != 1:
        raise ArithmeticError("the pair Lyapunov equation has no unique solution")
    return X.subs(sol[0]).applyfunc(sp.factor)


# ----------------------------------------------------------------------------- numeric exports
@cache
def _numeric():
    d = derive()
    args = (rho, s, lr, momentum, weight_decay)
    return {
        "B": sp.lambdify(args, d.B, "numpy"),
        "U": sp.lambdify(args, d.U, "numpy"),
        "Q": sp.lambdify(args, d.Q, "numpy"),
        "kappa": sp.lambdify((momentum, batch_size), d.kappa, "numpy"),
        "pair": sp.lambdify((rho_i, rho_j, s_ij, lr, momentum, weight_decay), d.pair_B, "numpy"),
    }


def _blocks(name, rho_, sigma2, lr_, momentum_, weight_decay_):
    return over_modes(_numeric()[name], (rho_, sigma2), (lr_, momentum_, weight_decay_))


def mode_lyapunov(rho, sigma2, *, lr, momentum, weight_decay=0.0) -> np.ndarray:
    """Per-mode Lyapunov solution B (shape ``rho.shape + (2, 2)``), ``A_i B + B A_i^T = 2 D_i``."""
    return _blocks("B", rho, sigma2, lr, momentum, weight_decay)


def mode_decomposition(
    rho, sigma2, *, lr, momentum, weight_decay=0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-mode ``(Q, U)`` with ``A_i = (D_i + Q) U`` (seed 003 eq. 9)."""
    return (
        _blocks("Q", rho, sigma2, lr, momentum, weight_decay),
        _blocks("U", rho, sigma2, lr, momentum, weight_decay),
    )


def mode_stationary_cov(rho, sigma2, *, lr, momentum, weight_decay=0.0, batch_size=1) -> np.ndarray:
    """Per-mode stationary covariance ``B / kappa`` of (<theta - mu, q>, <v, q>) (SDE)."""
    kap = float(_numeric()["kappa"](momentum, batch_size))
    return mode_lyapunov(rho, sigma2, lr=lr, momentum=momentum, weight_decay=weight_decay) / kap


def pair_lyapunov(rho, sigma_modal, *, lr, momentum, weight_decay=0.0) -> np.ndarray:
    """Cross blocks B_ij (shape (d, d, 2, 2)) of the SDE's B in the eigenbasis, for any Sigma.

    ``rho`` are the eigenvalues of H, ``sigma_modal = q^T Sigma q``; ``B_ij`` holds
    ``[[B_tt, B_tv], [B_vt, B_vv]]`` restricted to modes (i, j). Assemble with
    :func:`phase_space_matrix`.
    """
    return over_pairs(_numeric()["pair"], rho, sigma_modal, (lr, momentum, weight_decay))


def phase_space_matrix(eigvecs, blocks) -> np.ndarray:
    """Assemble modal 2 x 2 blocks into the 2d x 2d matrix in [theta; v] order.

    ``eigvecs`` has the eigenvectors q_i as columns. ``blocks`` is either per mode, shape
    (d, 2, 2) (a matrix diagonal in the eigenbasis), or per pair, shape (d, d, 2, 2); the
    result is ``[[q X_tt q^T, q X_tv q^T], [q X_vt q^T, q X_vv q^T]]``.
    """
    q = np.asarray(eigvecs, dtype=float)
    blocks = np.asarray(blocks, dtype=float)
    d = q.shape[0]
    if blocks.ndim == 3:
        full = np.zeros((d, d, 2, 2))
        full[np.arange(d), np.arange(d)] = blocks
        blocks = full
    M = np.zeros((2 * d, 2 * d))
    for r in range(2):
        for c in range(2):
            M[r * d : (r + 1) * d, c * d : (c + 1) * d] = q @ blocks[:, :, r, c] @ q.T
    return M


# ----------------------------------------------------------------------------- claims
def _unique() -> bool:
    det = sp.factor(derive().lyapunov_system.det().subs(momentum_below_one))
    return bool(det.is_nonzero)


def _uncorrelated() -> bool:
    d = derive()
    # B_theta,v = 0, and Var(v) = B_vv / kappa = s / kappa: independent of lr and rho
    return vanishes(d.B[0, 1]) and vanishes(d.B[1, 1] - s)


def _q_skew_u_pd() -> bool:
    d = derive()
    U = d.U.subs(momentum_below_one)
    pd = sp.factor(U[0, 0]).is_positive and sp.factor(U.det()).is_positive
    return vanishes(d.Q + d.Q.T) and bool(pd)


def _decomposition() -> bool:
    d = derive()
    return vanishes(d.A - (d.D + d.Q) * d.U)


def _printed_eq9() -> bool:
    # seed 003 eq. 9, legible part: Q = [[0, -Sigma], [Sigma, 0]],
    # U = diag(2/(lr(1+beta)) Sigma^-1 (H + lambda I), Sigma^-1), here along one eigenvector
    d = derive()
    Q9 = sp.Matrix([[0, -s], [s, 0]])
    U9 = sp.diag(2 * (rho + weight_decay) / (lr * (1 + momentum) * s), 1 / s)
    return vanishes(d.Q - Q9) and vanishes(d.U - U9)


def _fokker_planck() -> bool:
    return vanishes(derive().fokker_planck)


def _current() -> bool:
    d = derive()
    a, w = d.x
    target = -d.Q * d.U * d.x * d.p
    div = sp.expand(sp.powsimp((d.J[0].diff(a) + d.J[1].diff(w)) / d.p))
    grad_psi = sp.Matrix([d.Psi.diff(a), d.Psi.diff(w)])
    ortho = sp.expand(sp.powsimp((d.J.T * grad_psi)[0] / d.p))
    nonzero = not vanishes(d.J[0] / d.p)
    return vanishes((d.J - target) / d.p) and vanishes(div) and vanishes(ortho) and nonzero


def _printed_eq11() -> bool:
    # seed 003 eq. 11: J = [v; -2/(lr(1+beta)) (H + lambda I)(theta - mu)] p_ss
    d = derive()
    a, w = d.x
    J11 = sp.Matrix([w, -2 / (lr * (1 + momentum)) * (rho + weight_decay) * a]) * d.p
    return vanishes((d.J - J11) / d.p)


def _printed_eq10() -> bool:
    # seed 003 eq. 10 with Sigma = sigma^2 H (s = sigma^2 rho): Psi_theta is proportional to
    # (theta - mu)^T H^{-1}(H + lambda I)/(lr(1+beta)) (theta - mu); the factor is 1/sigma^2
    d = derive()
    a = d.x[0]
    sigma2 = sp.Symbol("sigma2", positive=True)
    psi_theta = d.Psi.subs(d.x[1], 0).subs(s, sigma2 * rho)
    printed = (rho + weight_decay) / rho / (lr * (1 + momentum)) * a**2
    return vanishes(psi_theta - printed / sigma2)


def _eq23_needs_symmetric_A() -> bool:
    # appendix D eq. 23, A D - D A = Q A + A Q, is derived with A = A^T and fails for the SGD
    # drift; the identity that holds for every A is A B - B A^T = 2 Q (from A B = D + Q).
    d = derive()
    eq23 = d.A * d.D - d.D * d.A - (d.Q * d.A + d.A * d.Q)
    return (not vanishes(eq23)) and vanishes(d.A * d.B - d.B * d.A.T - 2 * d.Q)


def _pair_consistent() -> bool:
    # the pair block reduces to the single-mode B on the diagonal, and B_ji = B_ij^T
    d = derive()
    diag = d.pair_B.subs({rho_j: rho_i}).subs({rho_i: rho, s_ij: s})
    swapped = d.pair_B.subs({rho_i: rho_j, rho_j: rho_i}, simultaneous=True)
    return vanishes(diag - d.B) and vanishes(swapped - d.pair_B.T)


def verify() -> list[Outcome]:
    """Run every claim of this derivation."""
    return run_claims(
        NAME,
        [
            ("derivation completes (Lyapunov solve, U, Q, FP, J)", lambda: derive() is not None),
            ("Lyapunov system is non-singular (unique B)", _unique),
            ("B_theta,v = 0 and Var v = s/kappa, independent of lr", _uncorrelated),
            ("Q = AB - D is skew, U = B^-1 is positive definite", _q_skew_u_pd),
            ("A = (D + Q) U identically", _decomposition),
            ("Q, U agree with eq. 9 as printed", _printed_eq9),
            ("exp(-kappa Psi) solves the stationary Fokker-Planck eq.", _fokker_planck),
            ("J = -QU x p, div J = 0, J . grad Psi = 0, J != 0", _current),
            ("J agrees with eq. 11 as printed", _printed_eq11),
            ("Psi_theta agrees with eq. 10 (factor 1/sigma^2)", _printed_eq10),
            ("eq. 23 fails for the SGD A; AB - BA^T = 2Q holds", _eq23_needs_symmetric_A),
            ("any Sigma: pair blocks B_ij solve; B_ii = B, B_ji = B_ij^T", _pair_consistent),
        ],
    )
