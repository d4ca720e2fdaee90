"""Files of a validation run: atomic writes, JSON conversion, figures, markdown cells.

Files are written atomically (temporary file + rename, with the permissions the umask gives a
new file), so a killed run never leaves a torn file. Re-exported by :mod:`validation.report`.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np

#: Prefix and suffix of the temporary files of an atomic write; leftovers of a killed write
#: are removed when the next run starts in the same folder.
_TMP_PREFIX, _TMP_SUFFIX = ".", ".tmp"


def _file_mode() -> int:
    """Permission bits of a newly created file under the current umask (0644 for umask 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    The file gets the permissions the umask gives any new file; on any error (a full disk, an
    interrupt) the temporary file is removed and ``path`` keeps its previous content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f"{_TMP_PREFIX}{path.name}.", suffix=_TMP_SUFFIX
    )
    try:
        os.fchmod(fd, _file_mode())  # mkstemp creates 0600; give the file a normal file's mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(x):
    """Convert numpy scalars/arrays (recursively) to JSON types; non-finite floats to None."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def new_figure(nrows: int = 1, ncols: int = 1, **kwargs):
    """A matplotlib (Agg) figure and axes; the backend never needs a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kwargs.setdefault("figsize", (4.8 * ncols, 3.6 * nrows))
    kwargs.setdefault("constrained_layout", True)
    return plt.subplots(nrows, ncols, **kwargs)


def drawn_arrays(fig) -> dict[str, np.ndarray]:
    """The arrays a matplotlib figure draws, for a figure that does not name its own.

    Every line's x and y and label, every collection's points (scatter, fill) and every image of
    every axes, keyed ``ax<a>_line<l>_x``, ``ax<a>_collection<c>_xy``, ``ax<a>_image<i>``;
    masked entries become NaN. Enough to redraw or restyle the figure from its ``.npz``.

    Examples
    --------
    >>> fig, ax = new_figure()
    >>> _ = ax.plot([0.0, 1.0, 2.0], [1.0, 4.0, 9.0], label="k^2")
    >>> _ = ax.scatter([0.5], [2.0])
    >>> d = drawn_arrays(fig)
    >>> d["ax0_line0_y"].tolist(), str(d["ax0_line0_label"]), d["ax0_collection0_xy"].tolist()
    ([1.0, 4.0, 9.0], 'k^2', [[0.5, 2.0]])
    """

    def floats(a) -> np.ndarray:
        return np.ma.filled(np.ma.asarray(a, dtype=np.float64), np.nan)

    data: dict[str, np.ndarray] = {}
    for a, ax in enumerate(fig.get_axes()):
        for n, line in enumerate(ax.get_lines()):
            x, y = line.get_data()
            data[f"ax{a}_line{n}_x"], data[f"ax{a}_line{n}_y"] = floats(x), floats(y)
            data[f"ax{a}_line{n}_label"] = np.array(str(line.get_label()))
        for n, coll in enumerate(ax.collections):
            offsets = coll.get_offsets()
            if len(offsets):
                data[f"ax{a}_collection{n}_xy"] = floats(offsets)
        for n, image in enumerate(ax.get_images()):
            data[f"ax{a}_image{n}"] = floats(image.get_array())
    return data


def escape_cell(value) -> str:
    """A markdown table cell: floats with 4 significant digits, ``|`` escaped, one line."""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return " ".join(str(value).split()).replace("|", "\\|")
