"""``python -m theory [module ...]``: run the derivations' claims and print what they verified.

Prints one row per claim (derivation, claim, pass/FAIL, seconds), then the details of any
failure; exits with status 1 if any claim failed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from . import MODULES
from ._claims import Outcome


def run(modules=MODULES) -> list[Outcome]:
    """Import each module and collect its ``verify()`` outcomes, in order."""
    outcomes = []
    for name in modules:
        outcomes.extend(importlib.import_module(f"theory.{name}").verify())
    return outcomes


def table(outcomes: list[Outcome]) -> str:
    """The fixed-width table ``python -m theory`` prints."""
    w_d = max(len("derivation"), *(len(o.derivation) for o in outcomes))
    w_c = max(len("verified"), *(len(o.claim) for o in outcomes))
    lines = [
        f"{'derivation':<{w_d}}  {'verified':<{w_c}}  result  time (s)",
        "-" * (w_d + w_c + 20),
    ]
    last = None
    for o in outcomes:
        label = o.derivation if o.derivation != last else ""
        last = o.derivation
        lines.append(
            f"{label:<{w_d}}  {o.claim:<{w_c}}  "
            f"{'pass' if o.passed else 'FAIL':<6}  {o.seconds:7.2f}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m theory", description=__doc__.splitlines()[0])
    parser.add_argument(
        "modules",
        nargs="*",
        metavar="module",
        help=f"derivations to run (default: all of {', '.join(MODULES)})",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(
            f"unknown derivation(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}"
        )
    t0 = time.perf_counter()
    outcomes = run(args.modules or MODULES)
    wall = time.perf_counter() - t0
    print(table(outcomes))
    failed = [o for o in outcomes if not o.passed]
    for o in failed:
        print(f"\nFAILED {o.derivation}: {o.claim}\n  {o.detail or 'the check returned False'}")
    print("(a derivation shared by several modules is timed in the first claim that uses it)")
    print(
        f"\n{len(outcomes)} claims, {len(outcomes) - len(failed)} passed, {len(failed)} failed; "
        f"wall time {wall:.1f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
