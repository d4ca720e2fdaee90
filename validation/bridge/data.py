"""CIFAR-10: three on-disk formats in, one device-resident dataset out.

Readers return uint8 NHWC images and int64 labels (class order airplane, automobile, bird, cat,
deer, dog, frog, horse, ship, truck):

* the python release (``cifar-10-batches-py/data_batch_{1..5}``, ``test_batch``: pickled dicts);
* an ImageFolder tree (``train/<class>/*``, ``test/<class>/*``; classes sorted by name, which is
  the CIFAR order);
* the JPEG pack ``cifar10_jpeg.npz`` of the shared data folder (concatenated JPEG files and offsets,
  decoded with Pillow).

:class:`DeviceData` copies a split to the device once (uint8, 150 MB for the training set) and
:class:`BatchStream` cuts batches there, with random crop (zero padding 4) and horizontal flip done
on the device by one gather. Each step's batch is a pure function of ``(seed, stream, step)``, so a
resumed run draws exactly the batches an uninterrupted one would have drawn.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .settings import SAMPLINGS

__all__ = [
    "CLASSES",
    "Cifar10",
    "load_cifar10",
    "DeviceData",
    "SAMPLINGS",
    "BatchStream",
    "stream_seed",
    "STREAMS_VERSION",
]

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

#: Per-channel mean and standard deviation of the CIFAR-10 training images (RGB, in [0, 1]).
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)

#: Padding of the random crop (the standard CIFAR augmentation: pad 4, crop 32, flip).
CROP_PAD = 4

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}


@dataclass
class Cifar10:
    """CIFAR-10 as arrays: images uint8 (N, 32, 32, 3), labels int64 (N,)."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    source: str


def _check(x: np.ndarray, y: np.ndarray, where: str) -> None:
    if x.ndim != 4 or x.shape[1:] != (32, 32, 3) or x.dtype != np.uint8:
        raise ValueError(
            f"{where}: expected uint8 images of shape (N, 32, 32, 3); got {x.dtype} {x.shape}"
        )
    if y.shape != (len(x),) or (len(y) and (y.min() < 0 or y.max() >= len(CLASSES))):
        raise ValueError(f"{where}: labels must be {len(x)} class indices in [0, 10)")


def _read_batches(folder: Path, n_train, n_test):
    def read(names, limit):
        xs, ys, have = [], [], 0
        for name in names:
            if limit is not None and have >= limit:
                break
            with open(folder / name, "rb") as f:
                d = pickle.load(f, encoding="bytes")
            data = (
                np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            )
            xs.append(data)
            ys.append(np.asarray(d[b"labels"], dtype=np.int64))
            have += len(data)
        x, y = np.concatenate(xs), np.concatenate(ys)
        return (x, y) if limit is None else (x[:limit], y[:limit])

    train = read([f"data_batch_{i}" for i in range(1, 6)], n_train)
    test = read(["test_batch"], n_test)
    return train, test


def _decode(blobs) -> np.ndarray:
    from PIL import Image

    out = np.empty((len(blobs), 32, 32, 3), dtype=np.uint8)
    for i, b in enumerate(blobs):
        with Image.open(io.BytesIO(b)) as im:
            out[i] = np.asarray(im.convert("RGB"))
    return out


def _read_npz(path: Path, n_train, n_test):
    z = np.load(path)

    def read(split, limit):
        buf, offs, labels = z[f"{split}_jpeg"], z[f"{split}_offsets"], z[f"{split}_labels"]
        n = len(labels) if limit is None else min(limit, len(labels))
        blobs = [buf[offs[i] : offs[i + 1]].tobytes() for i in range(n)]
        return _decode(blobs), labels[:n].astype(np.int64)

    return read("train", n_train), read("test", n_test)


def _read_folder(root: Path, n_train, n_test):
    def read(split, limit):
        classes = sorted(p.name for p in (root / split).iterdir() if p.is_dir())
        if tuple(classes) != tuple(sorted(CLASSES)):
            raise ValueError(
                f"{root / split}: expected the 10 CIFAR-10 class folders; got {classes}"
            )
        per_class = [
            [f for f in sorted((root / split / c).iterdir()) if f.suffix.lower() in _IMAGE_SUFFIXES]
            for c in classes
        ]
        # round-robin over the classes, so that any prefix (a smoke subset) holds every class
        files = [
            (fs[r], CLASSES.index(c))
            for r in range(max(map(len, per_class)))
            for c, fs in zip(classes, per_class)
            if r < len(fs)
        ][:limit]
        return _decode([f.read_bytes() for f, _ in files]), np.array(
            [k for _, k in files], dtype=np.int64
        )

    return read("train", n_train), read("test", n_test)


def load_cifar10(root, *, n_train: int | None = None, n_test: int | None = None) -> Cifar10:
    """Read CIFAR-10 from ``root`` in whichever of the three formats it holds.

    Parameters
    ----------
    root : path
        The ``.npz`` pack (or a folder holding ``cifar10_jpeg.npz``), a folder holding
        ``cifar-10-batches-py`` (or that folder itself), or an ImageFolder root with ``train/`` and
        ``test/``.
    n_train, n_test : int, optional
        Read only the first images of each split (smoke runs; the pack and the batches are stored
        in shuffled order, so a prefix holds every class).
    """
    root = Path(root)
    if root.is_file() and root.suffix == ".npz":
        (trx, try_), (tex, tey) = _read_npz(root, n_train, n_test)
    elif (root / "cifar10_jpeg.npz").is_file():
        (trx, try_), (tex, tey) = _read_npz(root / "cifar10_jpeg.npz", n_train, n_test)
    elif (root / "cifar-10-batches-py" / "data_batch_1").is_file():
        (trx, try_), (tex, tey) = _read_batches(root / "cifar-10-batches-py", n_train, n_test)
    elif (root / "data_batch_1").is_file():
        (trx, try_), (tex, tey) = _read_batches(root, n_train, n_test)
    elif (root / "train").is_dir() and (root / "test").is_dir():
        (trx, try_), (tex, tey) = _read_folder(root, n_train, n_test)
    else:
        raise FileNotFoundError(
            f"{root}: no CIFAR-10 found (expected cifar10_jpeg.npz, cifar-10-batches-py/ or "
            "train/ + test/)"
        )
    _check(trx, try_, f"{root} (train)")
    _check(tex, tey, f"{root} (test)")
    return Cifar10(trx, try_, tex, tey, source=str(root))


#: The derivation of the batch and augmentation streams (:func:`stream_seed`), saved with a
#: run's settings: ``--resume`` refuses a run whose batches were drawn another way (version 1,
#: one flat key list, before 2026-12).
STREAMS_VERSION = 2


def stream_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed for the stream labelled by ``keys`` under the run's ``seed``.

    numpy's SeedSequence with ``seed`` as entropy and the keys, preceded by their number, as the
    spawn key: distinct ``(seed, keys)`` give distinct inputs. A flat list of words would not:
    SeedSequence pads short entropy with zero words, so ``(s, stream, 0)`` (epoch 0's permutation)
    and ``(s, stream, 0, 0)`` (step 0's augmentation) were one stream, and a seed of 2**32 or
    more spans two words, so ``(2**32, 5)`` and ``(0, 1, 5)`` were one too. Each key must be
    one word, in ``[0, 2**32)``, for the same reason (a ValueError otherwise).
    :data:`STREAMS_VERSION` names this derivation in a run's saved settings.
    """
    keys = tuple(int(k) for k in keys)
    if any(not 0 <= k < 2**32 for k in keys):
        raise ValueError(f"stream keys must lie in [0, 2**32); got {keys}")
    ss = np.random.SeedSequence(int(seed), spawn_key=(len(keys), *keys))
    return int(ss.generate_state(2, np.uint64)[0] >> np.uint64(1))


class DeviceData:
    """One split on the device: uint8 NHWC images, int64 labels, normalization constants.

    Parameters
    ----------
    x : (N, 32, 32, 3) uint8 array
    y : (N,) int array
    device : torch.device
    channels_last : bool
        Hand out batches in channels_last memory format (the fast layout for cuDNN convolutions).
    dtype : torch.dtype
        Floating type of the batches (float32; float64 for exactness checks on the CPU).
    """

    def __init__(
        self, x: np.ndarray, y: np.ndarray, device, *, channels_last: bool, dtype=torch.float32
    ):
        self.device = torch.device(device)
        self.x = torch.from_numpy(np.ascontiguousarray(x)).to(self.device)
        self.y = torch.from_numpy(np.asarray(y, dtype=np.int64)).to(self.device)
        self.n = len(self.y)
        self.channels_last = channels_last
        self.dtype = dtype
        self.mean = torch.tensor(MEAN, device=self.device, dtype=dtype).view(1, 3, 1, 1) * 255.0
        self.std = torch.tensor(STD, device=self.device, dtype=dtype).view(1, 3, 1, 1) * 255.0
        self._j = torch.arange(32, device=self.device)

    def _to_input(self, nhwc: torch.Tensor) -> torch.Tensor:
        x = nhwc.permute(0, 3, 1, 2).to(
            self.dtype
        )  # NCHW view of NHWC memory: channels_last already
        x = (x - self.mean) / self.std
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        return x.contiguous(memory_format=fmt)

    def take(
        self, idx: torch.Tensor, *, augment: bool = False, generator: torch.Generator | None = None
    ):
        """Normalized float batch ``(x, y)`` of the images ``idx``, optionally augmented.

        Augmentation: random crop of the zero-padded image and horizontal flip, as one gather on
        the device (no host round trip): ``out[b, i, j] = padded[b, dy_b + i, dx_b + j']`` with
        ``j' = 31 - j`` for flipped images.
        """
        xb = self.x[idx]
        if augment:
            b = len(idx)
            shift = torch.randint(
                0, 2 * CROP_PAD + 1, (2, b), device=self.device, generator=generator
            )
            flip = torch.randint(0, 2, (b,), device=self.device, generator=generator).bool()
            padded = torch.nn.functional.pad(xb, (0, 0, CROP_PAD, CROP_PAD, CROP_PAD, CROP_PAD))
            rows = shift[0, :, None] + self._j
            cols = shift[1, :, None] + torch.where(flip[:, None], 31 - self._j, self._j)
            bi = torch.arange(b, device=self.device)[:, None, None]
            xb = padded[bi, rows[:, :, None], cols[:, None, :]]
        return self._to_input(xb), self.y[idx]

    def chunks(self, batch_size: int):
        """Fixed, unaugmented batches covering the split in order (evaluation, Hessian subsets)."""
        for s in range(0, self.n, batch_size):
            idx = torch.arange(s, min(s + batch_size, self.n), device=self.device)
            yield self.take(idx)


class BatchStream:
    """Minibatches of step ``k``: epoch-wise random permutations, optional augmentation.

    Step ``k`` belongs to epoch ``k // steps_per_epoch`` (incomplete last batches are dropped);
    the permutation of an epoch and the augmentation of a step come from generators seeded by
    :func:`stream_seed` of ``(seed, stream, epoch)`` and ``(seed, stream, epoch, k)``: no state
    to save, and a different ``stream`` gives an independent sequence. With
    ``sampling="independent"`` step ``k`` takes the first ``batch_size`` entries of its own
    permutation, seeded by ``(seed, stream, k, 0, 1)`` (five keys: apart from the epoch's three
    and the augmentation's four, :func:`stream_seed`).
    """

    def __init__(
        self,
        data: DeviceData,
        batch_size: int,
        *,
        seed: int,
        stream: int,
        augment: bool,
        sampling: str = "reshuffle",
    ):
        if not 1 <= batch_size <= data.n:
            raise ValueError(
                f"batch_size must be in [1, {data.n}] (the dataset size); got {batch_size}"
            )
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}; got {sampling!r}")
        self.sampling = sampling
        self.data, self.batch_size, self.seed, self.stream, self.augment = (
            data,
            batch_size,
            seed,
            stream,
            augment,
        )
        self.steps_per_epoch = data.n // batch_size
        self._epoch, self._perm = None, None

    def _generator(self, *keys) -> torch.Generator:
        g = torch.Generator(device=self.data.device)
        g.manual_seed(stream_seed(self.seed, self.stream, *keys))
        return g

    def indices(self, k: int) -> torch.Tensor:
        """Indices of the images of step ``k``."""
        if self.sampling == "independent":
            perm = torch.randperm(
                self.data.n, device=self.data.device, generator=self._generator(k, 0, 1)
            )
            return perm[: self.batch_size]
        epoch, pos = divmod(k, self.steps_per_epoch)
        if epoch != self._epoch:
            self._perm = torch.randperm(
                self.data.n, device=self.data.device, generator=self._generator(epoch)
            )
            self._epoch = epoch
        return self._perm[pos * self.batch_size : (pos + 1) * self.batch_size]

    def batch(self, k: int):
        """``(x, y)`` of step ``k``."""
        idx = self.indices(k)
        gen = self._generator(k // self.steps_per_epoch, k) if self.augment else None
        return self.data.take(idx, augment=self.augment, generator=gen)
