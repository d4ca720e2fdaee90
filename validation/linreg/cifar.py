"""CIFAR-10 training images from disk, in any of three layouts, as a float design matrix.

* the python release: ``cifar-10-batches-py/data_batch_{1..5}`` (pickled dicts, uint8 rows
  holding the R, G and B planes of a 32 x 32 image);
* an ImageFolder tree: ``train/<class>/<image>`` (any format Pillow reads; classes in the
  order of :data:`CLASSES` when the folder names match them, else sorted);
* the JPEG pack ``cifar10_jpeg.npz`` of ``/work/shared/data/cifar10`` (``train_jpeg`` holding
  every JPEG file concatenated, ``train_offsets``, ``train_labels``; decoded with Pillow).

Every layout yields the same row format: 3072 values in [0, 1] (pixel / 255), R plane then G
then B (the pickle order), and the integer label.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

__all__ = ["CLASSES", "load_cifar10_train", "find_layout"]

#: Class names in the label order of the original release.
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".webp"}


def find_layout(root) -> tuple[str, Path]:
    """Which layout ``root`` holds: ``("batches" | "folder" | "npz", path to read)``.

    ``root`` may be the layout itself (the ``.npz`` file, the ``cifar-10-batches-py`` folder,
    the ``train`` folder of an ImageFolder tree) or a folder that contains one of them.

    Raises
    ------
    FileNotFoundError
        Naming the three layouts looked for.
    """
    root = Path(root)
    if root.is_file() and root.suffix == ".npz":
        return "npz", root
    candidates = [
        ("batches", root),
        ("batches", root / "cifar-10-batches-py"),
        ("npz", root / "cifar10_jpeg.npz"),
        ("folder", root / "train"),
        ("folder", root),
    ]
    for kind, path in candidates:
        if kind == "batches" and (path / "data_batch_1").is_file():
            return kind, path
        if kind == "npz" and path.is_file():
            return kind, path
        if kind == "folder" and path.is_dir() and _class_dirs(path):
            return kind, path
    raise FileNotFoundError(
        f"no CIFAR-10 training set under {root}: looked for cifar-10-batches-py/data_batch_1 "
        "(python release), cifar10_jpeg.npz (JPEG pack) and train/<class>/ (ImageFolder tree)"
    )


def _class_dirs(path: Path) -> list[Path]:
    dirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = {p.name for p in dirs}
    if len(dirs) != len(CLASSES):
        return []
    if names == set(CLASSES):
        return [path / c for c in CLASSES]
    return dirs


def _decode(blobs) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in blobs])


def _planes(images: np.ndarray) -> np.ndarray:
    """uint8 NHWC -> uint8 rows, R plane then G then B (the python release's order)."""
    if images.shape[1:] != (32, 32, 3):
        raise ValueError(f"CIFAR-10 images must be 32 x 32 RGB; got shape {images.shape[1:]}")
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1)


def _load_batches(path: Path):
    rows, labels = [], []
    for i in range(1, 6):
        with open(path / f"data_batch_{i}", "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        rows.append(np.asarray(batch[b"data"], dtype=np.uint8))
        labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return np.concatenate(rows), np.concatenate(labels)


def _load_npz(path: Path):
    with np.load(path) as z:
        buf, offs, labels = z["train_jpeg"], z["train_offsets"], z["train_labels"]
    blobs = [buf[offs[i] : offs[i + 1]].tobytes() for i in range(len(labels))]
    return _planes(_decode(blobs)), labels.astype(np.int64)


def _load_folder(path: Path):
    from PIL import Image

    rows, labels = [], []
    for label, d in enumerate(_class_dirs(path)):
        files = sorted(p for p in d.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
        images = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in files])
        rows.append(_planes(images))
        labels.append(np.full(len(files), label, dtype=np.int64))
    return np.concatenate(rows), np.concatenate(labels)


def load_cifar10_train(root, n_samples: int | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """The CIFAR-10 training images as ``(X, labels, layout)``.

    Parameters
    ----------
    root : path
        See :func:`find_layout`.
    n_samples : int, optional
        Keep n_samples images, a subset drawn with a fixed seed (so that every layout, even a
        class-sorted folder tree, gives a class-balanced sample); all 50,000 by default.

    Returns
    -------
    X : (N, 3072) float64 ndarray
        Pixels / 255, R plane then G then B.
    labels : (N,) int64 ndarray
        Class index in the order of :data:`CLASSES`.
    layout : str
        ``"batches"``, ``"folder"`` or ``"npz"``.
    """
    kind, path = find_layout(root)
    rows, labels = {"batches": _load_batches, "folder": _load_folder, "npz": _load_npz}[kind](path)
    if n_samples is not None and n_samples < len(labels):
        keep = np.sort(np.random.default_rng(0).permutation(len(labels))[:n_samples])
        rows, labels = rows[keep], labels[keep]
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise ValueError(
            f"CIFAR-10 labels must lie in [0, 10); got range [{labels.min()}, {labels.max()}]"
        )
    return rows.astype(np.float64) / 255.0, labels, kind
