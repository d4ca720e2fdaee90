"""Evaluate derived sympy expressions with numpy: matrix expressions, and per mode or pair of modes.

``lambdify`` cannot print ``Identity(n)`` for a symbolic n, so the block results of the
matrix-level derivations are evaluated by walking the expression tree instead: the numbers
are exactly the derived expression, with ``@`` for every matrix product.
"""

from __future__ import annotations

from functools import reduce

import numpy as np
import sympy as sp

__all__ = ["evaluate", "over_modes", "over_pairs"]


def evaluate(expr, matrices: dict, scalars: dict, n: int) -> np.ndarray:
    """Value of ``expr`` for the numpy ``matrices`` and ``scalars``.

    ``matrices`` is keyed by MatrixSymbol, ``scalars`` by Symbol.
    """

    def scalar(e) -> float:
        return float(sp.sympify(e).evalf(subs=scalars))

    def walk(e):
        if isinstance(e, sp.MatrixSymbol):
            return np.asarray(matrices[e], dtype=float)
        if isinstance(e, sp.Identity):
            return np.eye(n)
        if isinstance(e, sp.ZeroMatrix):
            return np.zeros((n, n))
        if isinstance(e, sp.Transpose):
            return walk(e.arg).T
        if isinstance(e, sp.MatAdd):
            return reduce(np.add, (walk(a) for a in e.args))
        if isinstance(e, sp.MatMul):
            coeff, factors = e.as_coeff_matrices()
            return scalar(coeff) * reduce(np.matmul, (walk(f) for f in factors))
        if isinstance(e, sp.MatPow) and e.exp.is_Integer and e.exp >= 0:
            return np.linalg.matrix_power(walk(e.base), int(e.exp))
        raise TypeError(f"cannot evaluate {type(e).__name__}: {e}")

    return walk(expr)


def over_modes(f, arrays, scalars) -> np.ndarray:
    """``f(*arrays[idx], *scalars)`` for every index of the broadcast ``arrays``, stacked.

    ``f`` is a lambdified expression of one mode (scalar or matrix valued); the result has
    shape ``broadcast shape + f's shape``.
    """
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in arrays))
    shape = arrays[0].shape
    first = np.asarray(f(*(np.ones(1)[0] for _ in arrays), *scalars), dtype=float)
    out = np.empty(shape + first.shape)
    for idx in np.ndindex(shape):
        out[idx] = np.asarray(f(*(a[idx] for a in arrays), *scalars), dtype=float)
    return out


def over_pairs(f, rho, sigma_modal, scalars) -> np.ndarray:
    """``f(rho_i, rho_j, sigma_modal[i, j], *scalars)`` for every pair of modes.

    The result has shape (d, d, ...).
    """
    rho = np.asarray(rho, dtype=float)
    return over_modes(f, (rho[:, None], rho[None, :], sigma_modal), scalars)
