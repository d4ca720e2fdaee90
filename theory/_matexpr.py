"""Evaluate a sympy matrix expression (MatrixSymbols, Identity, sums, products) with numpy.

``lambdify`` cannot print ``Identity(n)`` for a symbolic n, so the block results of the
matrix-level derivations are evaluated by walking the expression tree instead: the numbers
are exactly the derived expression, with ``@`` for every matrix product.
"""

from __future__ import annotations

from functools import reduce

import numpy as np
import sympy as sp

__all__ = ["evaluate"]


def evaluate(expr, matrices: dict, scalars: dict, n: int) -> np.ndarray:
    """Value of ``expr`` for the numpy ``matrices`` (by MatrixSymbol) and ``scalars`` (by Symbol)."""

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
