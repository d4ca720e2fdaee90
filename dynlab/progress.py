"""Progress bars for long runs (tqdm on stderr).

Bars are shown when stderr is a terminal. ``TQDM_DISABLE=1`` (tqdm's own switch) turns every
bar off; otherwise ``DYNLAB_PROGRESS=1`` forces them on and ``DYNLAB_PROGRESS=0`` off (CI logs
stay clean either way).
"""

from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm

__all__ = ["progress"]

_OFF = ("0", "", "false", "no")


def _enabled() -> bool:
    if os.environ.get("TQDM_DISABLE", "0").strip().lower() not in _OFF:
        return False
    flag = os.environ.get("DYNLAB_PROGRESS")
    if flag is not None:
        return flag.strip().lower() not in _OFF
    return sys.stderr.isatty()


def progress(iterable=None, *, total: int | None = None, desc: str = "", unit: str = "it"):
    """Wrap ``iterable`` (or count to ``total``) in a tqdm bar that respects TQDM_DISABLE and
    DYNLAB_PROGRESS."""
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not _enabled(), leave=False)
