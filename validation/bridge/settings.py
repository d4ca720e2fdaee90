"""Settings of the bridge: presets and profiles, the phases each experiment needs, validation.

Importing this module needs neither torch nor a GPU: ``--help``, the validation of every option
and the report half run without them.
"""

from __future__ import annotations

import numpy as np

from dynlab.errors import HyperparameterError
from dynlab.hyper import HeavyBall

__all__ = [
    "PRESETS",
    "PROFILES",
    "RESNET_ONLY",
    "MODEL_NAMES",
    "SAMPLINGS",
    "PROFILES_SMOKE",
    "EXPERIMENTS",
    "PHASE_ORDER",
    "ATOMIC",
    "needed_phases",
    "energy_grids",
    "sweep_settings",
    "sweep_steps",
    "validate",
    "validate_data_size",
]

#: Experiments the CLI can select, and the phases each needs.
EXPERIMENTS = {
    "diffusion": ("base",),
    "speed": ("base", "sweeps", "noise", "hessian"),
    "hessian": ("hessian",),
    "phase": ("hessian", "base", "noise", "surface"),
    "noise": ("hessian", "noise", "base"),
    "energy": ("energy",),
    "conservation": ("conservation",),
}
PHASE_ORDER = ("hessian", "base", "sweeps", "noise", "surface", "conservation", "energy")
#: Phases without checkpoints inside (the Lanczos basis alone would be gigabytes).
ATOMIC = ("hessian", "noise", "surface", "conservation")

#: ``--model`` choices (the classes are in :data:`.model.MODELS`).
MODEL_NAMES = ("resnet18", "linear")

#: How a batch stream draws the samples of a step (:class:`.data.BatchStream`): one random
#: permutation per epoch cut into batches (what training scripts do), or a fresh subset without
#: replacement every step (independent batches, the sampling of
#: ``dynlab.minibatch.MinibatchSGD(..., sampling="without_replacement")``).
SAMPLINGS = ("reshuffle", "independent")

#: Experiments that need the ResNet (its BatchNorm scale symmetry and softmax translation
#: symmetry, its energy-drift protocol): refused with ``--model linear``.
RESNET_ONLY = ("energy", "conservation")

#: Settings of the real run (``full``), of ``--smoke`` and of ``--model linear`` (below); any
#: option given on the command line wins. A profile (:data:`PROFILES`) overrides the preset it
#: names.
PRESETS = {
    "full": dict(
        n_train=None,
        n_test=None,
        width=64,
        pretrain_epochs=40,
        pretrain_batch_size=256,
        pretrain_lr=0.1,
        pretrain_warmup=2.0,
        target_acc=0.93,
        lr=1e-3,
        momentum=0.9,
        weight_decay=5e-4,
        batch_size=128,
        steps=10000,
        checkpoint_every=500,
        sweep_steps=1000,
        sweep_epochs=None,
        sweep_lr=[1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
        sweep_batch_size=[32, 64, 128, 256, 512, 1024],
        sweep_momentum=[0.8, 0.85, 0.9, 0.95, 0.99],
        top_k=30,
        hessian_samples=2048,
        lanczos_iters=None,
        project=[1, 2, 5, 10, 20, 30],
        noise_batches=200,
        quadrature_probes=16,
        quadrature_steps=20,
        surface_grid=15,
        energy_steps=390,
        energy_seeds=3,
        energy_points=4,
        energy_batch_size=128,
        reversibility_steps=100,
        conservation_steps=2000,
        device=None,
        threads=None,
        sampling="reshuffle",
        experiments=sorted(EXPERIMENTS),
    ),
    "smoke": dict(
        n_train=256,
        n_test=128,
        width=4,
        pretrain_epochs=1,
        pretrain_batch_size=32,
        pretrain_lr=0.05,
        pretrain_warmup=0.5,
        target_acc=0.0,
        lr=1e-3,
        momentum=0.9,
        weight_decay=5e-4,
        batch_size=8,
        steps=60,
        checkpoint_every=25,
        sweep_steps=24,
        sweep_epochs=None,
        sweep_lr=[5e-4, 2e-3],
        sweep_batch_size=[8, 16],
        sweep_momentum=[0.8, 0.95],
        top_k=3,
        hessian_samples=16,
        lanczos_iters=12,
        project=[1, 3],
        noise_batches=8,
        quadrature_probes=2,
        quadrature_steps=4,
        surface_grid=3,
        energy_steps=5,
        energy_seeds=2,
        energy_points=3,
        energy_batch_size=8,
        reversibility_steps=3,
        conservation_steps=12,
        device="cpu",
        threads=1,
        sampling="reshuffle",
        experiments=sorted(EXPERIMENTS),
    ),
}

#: ``--model linear``, the check with a known answer: the smoke preset's CPU settings with d = 8
#: features, N = 256 samples, and every run long enough for an effective sample size above 30
#: on its second half (seed 0: ESS 47 to 302 over the speed and displacement windows).
PRESETS["linear"] = dict(
    PRESETS["smoke"],
    n_test=64,
    width=8,
    pretrain_epochs=20,
    pretrain_lr=0.1,
    pretrain_warmup=1.0,
    lr=0.01,
    steps=3000,
    checkpoint_every=3000,
    sweep_steps=3000,
    sweep_lr=[0.005, 0.02],
    sweep_batch_size=[4, 32],
    sweep_momentum=[0.8, 0.95],
    top_k=4,
    hessian_samples=256,
    lanczos_iters=None,
    project=[1, 2, 4],
    noise_batches=500,
    quadrature_probes=16,
    quadrature_steps=8,
    surface_grid=5,
    sampling="independent",
    experiments=[e for e in sorted(EXPERIMENTS) if e not in RESNET_ONLY],
)

#: Named protocols (``--profile``): the seed-003 ResNet experiments in one GPU command, and the
#: seeds 000/001 experiments (energy drift, conservation laws) in another. Sweeps of
#: ``seed003`` run the same number of epochs each (not steps).
PROFILES = {
    "seed003": dict(
        pretrain_epochs=40,
        pretrain_batch_size=256,
        lr=1e-3,
        momentum=0.9,
        weight_decay=5e-4,
        batch_size=256,
        steps=390,  # 2 epochs of 50,000 images at batch 256
        checkpoint_every=130,
        sweep_epochs=2.0,
        sweep_lr=[3e-4, 1e-3, 3e-3],
        sweep_batch_size=[64, 256, 1024],
        sweep_momentum=[0.8, 0.9, 0.99],
        top_k=20,
        hessian_samples=1024,
        project=[1, 2, 5, 10, 20],
        noise_batches=100,
        quadrature_probes=8,
        quadrature_steps=16,
        surface_grid=9,
        experiments=["diffusion", "hessian", "noise", "phase", "speed"],
    ),
    "seed000": dict(
        energy_steps=390,
        energy_seeds=2,
        energy_points=3,
        conservation_steps=2000,
        top_k=1,  # rho_1 for the edge-of-stability ratio
        hessian_samples=1024,
        lanczos_iters=30,
        project=[1],
        experiments=["conservation", "energy", "hessian"],
    ),
}

#: What a profile sets under ``--smoke`` (the same code path on the smoke preset's sizes).
PROFILES_SMOKE = {
    "seed003": dict(experiments=PROFILES["seed003"]["experiments"], sweep_epochs=0.75),
    "seed000": dict(experiments=PROFILES["seed000"]["experiments"]),
}

#: Sweep keys in report order.
SWEEP_KEYS = ("lr", "batch_size", "momentum")


def needed_phases(experiments) -> list[str]:
    """The phases the selected experiments need, in execution order."""
    want = {p for e in experiments for p in EXPERIMENTS[e]}
    return [p for p in PHASE_ORDER if p in want]


def energy_grids(a) -> dict[str, tuple[str, np.ndarray]]:
    """Seed 000 Table 1 grids: name -> (method, step sizes)."""
    n = a.energy_points
    return {
        "leapfrog_band": ("leapfrog", np.geomspace(*a.leapfrog_band, n)),
        "leapfrog_wide": ("leapfrog", np.geomspace(*a.leapfrog_wide, n)),
        "sgd": ("sgd", np.geomspace(*a.sgd_lrs, n)),
        "adamw": ("adamw", np.geomspace(*a.adamw_lrs, n)),
    }


def base_hyper(a) -> HeavyBall:
    """The resumed run's optimizer (validated)."""
    return HeavyBall(
        lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay, batch_size=a.batch_size
    )


def sweep_settings(a) -> list[tuple[str, float, HeavyBall]]:
    """(hyperparameter, value, optimizer) of the lr, batch-size and momentum sweeps."""
    base = base_hyper(a)
    out = []
    for key in SWEEP_KEYS:
        for v in getattr(a, f"sweep_{key}"):
            out.append((key, v, base.replace(**{key: v})))
    return out


def sweep_steps(a, batch_size: int, n_train: int) -> int:
    """Steps of a sweep run: ``--sweep-epochs`` epochs at its batch size, else ``--sweep-steps``."""
    if a.sweep_epochs is None:
        return a.sweep_steps
    return max(1, int(round(a.sweep_epochs * n_train / batch_size)))


def _positive(a, names, kind=float):
    for name in names:
        v = getattr(a, name)
        values = v if isinstance(v, (list, tuple)) else [v]
        for x in values:
            if x is None:
                continue
            if not isinstance(x, (int, float)) or not np.isfinite(x) or x <= 0:
                raise HyperparameterError(f"--{name.replace('_', '-')} must be > 0; got {x!r}")


def validate(a) -> None:
    """Check every option before any work; raises :class:`HyperparameterError` naming it.

    The resumed run and every sweep setting go through :class:`dynlab.hyper.HeavyBall`
    (lr > 0, 0 <= momentum < 1, weight_decay >= 0, batch sizes >= 1); counts and sizes must be
    positive; ``--project`` indices within ``--top-k``.
    """
    for where, make in (("", lambda: base_hyper(a)), ("--sweep-* ", lambda: sweep_settings(a))):
        try:
            make()
        except HyperparameterError as exc:
            raise HyperparameterError(f"{where}{exc}".replace("lr ", "--lr ", 1)) from None
    if not 0.0 <= a.conservation_momentum < 1.0:
        raise HyperparameterError(
            f"--conservation-momentum must be in [0, 1); got {a.conservation_momentum}"
        )
    _positive(
        a,
        [
            "steps",
            "checkpoint_every",
            "sweep_steps",
            "sweep_epochs",
            "top_k",
            "hessian_samples",
            "lanczos_iters",
            "noise_batches",
            "quadrature_probes",
            "quadrature_steps",
            "surface_grid",
            "energy_steps",
            "energy_seeds",
            "energy_points",
            "energy_batch_size",
            "reversibility_steps",
            "conservation_steps",
            "conservation_lr",
            "width",
            "pretrain_epochs",
            "pretrain_batch_size",
            "pretrain_lr",
            "n_train",
            "n_test",
            "lanczos_tol",
            "leapfrog_band",
            "leapfrog_wide",
            "sgd_lrs",
            "adamw_lrs",
            "cap",
            "time_limit",
            "stop_after_steps",
            "threads",
        ],
    )
    for name in ("weight_decay", "pretrain_weight_decay", "conservation_weight_decay", "damping"):
        if getattr(a, name) < 0:
            raise HyperparameterError(f"--{name.replace('_', '-')} must be >= 0")
    if not 0.0 <= a.target_acc <= 1.0:
        raise HyperparameterError(f"--target-acc must be in [0, 1]; got {a.target_acc}")
    if a.noise_batches < 2:
        raise HyperparameterError("--noise-batches must be >= 2 to estimate a covariance")
    if a.quadrature_probes < 2 or a.quadrature_probes > a.noise_batches:
        raise HyperparameterError(
            f"--quadrature-probes must be in [2, --noise-batches = {a.noise_batches}]"
        )
    if a.model == "linear":
        bad = sorted(set(a.experiments) & set(RESNET_ONLY))
        if bad:
            raise HyperparameterError(f"--experiments {bad} need --model resnet18")
    elif a.data_root is None:
        raise HyperparameterError("--data-root is required (except with --model linear)")
    bad = [i for i in a.project if not 1 <= i <= a.top_k]
    if bad:
        raise HyperparameterError(f"--project indices must be in [1, --top-k = {a.top_k}]: {bad}")


def validate_data_size(a, n_train: int, n_test: int) -> None:
    """Batch sizes of every run must fit the training set (checked once the data is loaded)."""
    sizes = {
        "--batch-size": [a.batch_size],
        "--sweep-batch-size": a.sweep_batch_size,
        "--energy-batch-size": [a.energy_batch_size],
        "--pretrain-batch-size": [a.pretrain_batch_size],
    }
    for name, values in sizes.items():
        big = [s for s in values if s > n_train]
        if big:
            raise HyperparameterError(
                f"{name} {big} exceeds the {n_train} training images; lower it or raise --n-train"
            )
    if n_test < 1:
        raise HyperparameterError("--n-test: the test set is empty")
