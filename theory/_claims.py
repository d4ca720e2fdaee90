"""What a derivation verifies, and the record the runner prints.

A *claim* is a sentence and a function that returns True when sympy confirms it (an identity
reduces to zero, a limit agrees, a linear system has the stated solution). A claim that raises
or returns False fails; nothing here converts a failure into a pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sympy as sp

__all__ = ["Outcome", "run_claims", "vanishes"]


@dataclass(frozen=True)
class Outcome:
    """One verified (or refuted) claim of one derivation."""

    derivation: str
    claim: str
    passed: bool
    seconds: float
    detail: str = ""


def vanishes(expr, *steps: Callable[[sp.Expr], sp.Expr]) -> bool:
    """True when every entry of ``expr`` reduces to exactly 0 under one of ``steps``.

    ``steps`` are applied in turn (each to the result of the previous one) and the entry
    counts as zero as soon as one of them returns 0; the default is ``sp.expand``, then
    ``sp.cancel``. Targeted rewrites keep this cheap: no generic ``simplify`` unless asked.
    """
    steps = steps or (sp.expand, sp.cancel)
    entries = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
    for e in entries:
        e = sp.sympify(e)
        if e == 0:
            continue
        for step in steps:
            e = step(e)
            if e == 0:
                break
        else:
            return False
    return True


def run_claims(derivation: str, claims: Iterable[tuple[str, Callable[[], bool]]]) -> list[Outcome]:
    """Run each ``(claim, check)`` pair, timing it; a check that raises fails with its message."""
    out = []
    for claim, check in claims:
        t0 = time.perf_counter()
        try:
            ok = check()
            if not isinstance(ok, (bool, sp.logic.boolalg.BooleanAtom)):
                raise TypeError(f"check returned {type(ok).__name__}, not a bool")
            passed, detail = bool(ok), ""
        except Exception as exc:  # a failing derivation is reported, not hidden
            passed, detail = False, f"{type(exc).__name__}: {exc}"
        out.append(Outcome(derivation, claim, passed, time.perf_counter() - t0, detail))
    return out
