"""Command-line helpers of the validation scripts: shared options, argument types, user errors.

Re-exported by :mod:`validation.report`.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager

from dynlab.errors import DynlabError

from .report_core import Report
from .report_gates import exit_status, finish


def cli_parser(module: str, doc: str, *, seed: int, quick_help: str) -> argparse.ArgumentParser:
    """The options every validation script shares: ``--quick``, ``--out`` and ``--seed``.

    Parameters
    ----------
    module : str
        The script's module name, e.g. ``"symmetry"`` for ``python -m validation.symmetry``;
        the default output folder is ``runs/<module>``.
    doc : str
        The module docstring; its first paragraph is the description.
    seed : int
        Default master seed.
    quick_help : str
        What ``--quick`` does (shown by ``--help``).
    """
    p = argparse.ArgumentParser(
        prog=f"python -m validation.{module}", description=doc.split("\n\n")[0]
    )
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--out", default=f"runs/{module}", help="output folder (default: %(default)s)")
    p.add_argument("--seed", type=seed_int, default=seed, help="master seed (default: %(default)s)")
    return p


def command_line(module: str, argv: list[str] | None) -> str:
    """The command that reproduces a run: ``python -m validation.<module>`` and its arguments."""
    args = sys.argv[1:] if argv is None else list(argv)
    return " ".join([f"python -m validation.{module}", *args])


def run_validation(
    module: str, doc: str, title: str, run_all, *, seed: int, quick_help: str, argv=None
) -> int:
    """The ``main`` of a validation script: options, report, ``run_all``, files, exit status.

    Parses ``--quick``, ``--out`` and ``--seed`` (:func:`cli_parser`), calls
    ``run_all(quick, seed, report)``, writes the report (:func:`finish`) and returns
    :func:`exit_status`: 1 if a gated prediction failed.
    """
    parser = cli_parser(module, doc, seed=seed, quick_help=quick_help)
    args = parser.parse_args(argv)
    with user_errors(parser, "--out", OUT_FIX):
        report = Report(args.out, title, command=command_line(module, argv))
    run_all(args.quick, args.seed, report)
    finish(report)
    return exit_status(report)


OUT_FIX = "choose a folder you can create and write"


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be >= {low}; got {value}")
    return value


def positive_int(text: str) -> int:
    """An ``argparse`` type: an integer >= 1 (``0`` is an error, never read as "the default")."""
    return _int_at_least(text, 1)


def seed_int(text: str) -> int:
    """An ``argparse`` type for ``--seed``: an integer >= 0, as numpy's seeds are."""
    return _int_at_least(text, 0)


@contextmanager
def user_errors(parser: argparse.ArgumentParser, option: str, fix: str):
    """Report a bad option as argparse does: one line ``prog: error: ...``, exit status 2.

    Wraps the code that turns options into a model or reads the files they name: a
    :class:`dynlab.errors.DynlabError` (a value outside its domain) or an ``OSError`` (a missing
    or unreadable path) raised there becomes ``option: <what is wrong>; <fix>``. Errors raised
    elsewhere are bugs and keep their traceback.
    """
    try:
        yield
    except (DynlabError, OSError) as exc:
        parser.error(f"{option}: {exc}; {fix}")
