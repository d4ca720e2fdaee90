"""ResNet-18 on CIFAR-10: seed 003's observables (and seeds 000, 001) on a real network.

    python -m validation.resnet_bridge --data-root DIR --out DIR [--profile seed003|seed000]
        [--checkpoint PATH] [--experiments ...] [--device cuda] [--resume]
        [--time-limit SECONDS] [--smoke] [--plan IMAGES_PER_S HVP_FACTOR]
    python -m validation.resnet_bridge --model linear --out DIR

Loads CIFAR-10 (python batches, ImageFolder or the JPEG ``.npz`` pack) onto the device once;
without ``--checkpoint`` pretrains a CIFAR ResNet-18 (bf16 autocast, channels_last on CUDA) and
saves it; then resumes plain SGD from it (seed 003's "end of training" setting) and measures, on
the device without per-step host synchronization, the experiments listed in
``docs/resnet_bridge.md``. Writes ``report.md``, ``results.json`` and PNG figures to
``OUT/report`` after every phase (a fresh folder swapped in whole), ``log.txt`` to ``OUT``; every
phase checkpoints atomically, with a checksum, into ``OUT/state``, so a killed or time-limited
run continues with ``--resume`` and computes exactly what it would have computed uninterrupted.

``--profile seed003`` is seed 003's ResNet protocol in one GPU command; ``--profile seed000``
runs the energy drift (seed 000) and the conservation laws (seed 001). ``--smoke`` runs the
same code on a tiny subset with a narrow network on the CPU (and combines with a profile).
``--model linear`` runs the same pipeline on a torch linear-regression model on synthetic data,
with independent batches, where dynlab's exact moments are the known answer (no data needed).
``--help`` and the validation of every option need no torch.
Exit status: 0 when the report is complete, 2 for a bad option (nothing is written) or a
corrupt or mismatched state (the message names the file and the fix), 3 when stopped by
``--time-limit`` or ``--stop-after-steps`` (rerun with ``--resume``), 4 when the pretrained
network misses ``--target-acc`` (kept: rerun with ``--resume`` and a lower target).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from dynlab.errors import DynlabError
from validation.report import OUT_FIX, positive_int, seed_int, user_errors

from .bridge.settings import (
    EXPERIMENTS,
    MODEL_NAMES,
    PRESETS,
    PROFILES,
    PROFILES_SMOKE,
    SAMPLINGS,
    validate,
)

__all__ = ["get_args_parser", "main", "PRESETS", "PROFILES"]


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    """The command-line options (torchvision-reference style)."""
    full = PRESETS["full"]
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        add_help=add_help,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="CIFAR-10: the .npz pack (or its folder), cifar-10-batches-py, or an ImageFolder "
        "root (required, except with --model linear)",
    )
    p.add_argument(
        "--out", type=Path, required=True, help="output folder (report, figures, log, state)"
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="pretrained network to start from; if absent, pretrain and save it there "
        "(default OUT/pretrained.pt)",
    )
    p.add_argument(
        "--experiments",
        nargs="+",
        choices=sorted(EXPERIMENTS),
        default=None,
        help="(all, or the profile's)",
    )
    p.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=None,
        help="a named protocol: seed003 (Hessian, noise, diffusion, phase space, eq. 12 sweeps) "
        "or seed000 (energy drift and conservation laws)",
    )
    p.add_argument(
        "--device", default=None, help="torch device (default: cuda if available, else cpu)"
    )
    p.add_argument("--smoke", action="store_true", help="tiny data, narrow network, few steps, CPU")
    p.add_argument(
        "--model",
        choices=MODEL_NAMES,
        default="resnet18",
        help="resnet18 (CIFAR-10), or linear: linear regression on synthetic data (--width "
        "features, --n-train/--n-test samples), where dynlab's exact moments are the known "
        "answer; the same pipeline, with its own preset",
    )
    p.add_argument(
        "--sampling",
        choices=SAMPLINGS,
        default=None,
        help="batches of the resumed runs and noise estimates: one permutation per epoch, or a "
        "fresh subset (without replacement) every step (reshuffle; --model linear: independent, "
        "the sampling whose exact moments dynlab computes)",
    )
    p.add_argument(
        "--plan",
        type=float,
        nargs=2,
        default=None,
        metavar=("IMAGES_PER_S", "HVP_FACTOR"),
        help="print the work of each phase and its time at this training rate (images/s) and "
        "Hessian-vector-product cost per image (in training steps), then exit; no torch, no data "
        "read (--n-train/--n-test or 50,000/10,000 images)",
    )
    p.add_argument(
        "--resume", action="store_true", help="continue the run whose state is in OUT/state"
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop cleanly (exit 3, resumable) once this much wall time has passed",
    )
    p.add_argument(
        "--stop-after-steps",
        type=int,
        default=None,
        metavar="N",
        help="stop cleanly (exit 3, resumable) after N steps (optimizer steps, Hv products, "
        "gradients)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads of torch (default: torch's choice; smoke: 1, for shared CI cores)",
    )
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument(
        "--n-train", type=positive_int, default=None, help="use only the first N training images"
    )
    p.add_argument(
        "--n-test", type=positive_int, default=None, help="use only the first N test images"
    )
    p.add_argument(
        "--width", type=positive_int, default=None, help=f"ResNet width ({full['width']})"
    )
    g = p.add_argument_group("pretraining (when no --checkpoint)")
    g.add_argument("--pretrain-epochs", type=int, default=None, help=f"({full['pretrain_epochs']})")
    g.add_argument(
        "--pretrain-batch-size", type=int, default=None, help=f"({full['pretrain_batch_size']})"
    )
    g.add_argument(
        "--pretrain-lr",
        type=float,
        default=None,
        help=f"peak lr, Nesterov SGD ({full['pretrain_lr']})",
    )
    g.add_argument("--pretrain-weight-decay", type=float, default=5e-4)
    g.add_argument(
        "--pretrain-warmup",
        type=float,
        default=None,
        help=f"warm-up epochs ({full['pretrain_warmup']})",
    )
    g.add_argument(
        "--target-acc",
        type=float,
        default=None,
        help=f"refuse to go on below this test accuracy ({full['target_acc']}; 0 disables)",
    )
    g = p.add_argument_group("resumed SGD (seed 003 'end of training')")
    g.add_argument("--lr", type=float, default=None, help="(1e-3)")
    g.add_argument("--momentum", type=float, default=None, help="(0.9)")
    g.add_argument("--weight-decay", type=float, default=None, help="(5e-4)")
    g.add_argument("--batch-size", type=positive_int, default=None, help="(128; smoke 8)")
    g.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="augment batches of the resumed runs (off: the loss is that of the Hessian and "
        "noise estimates)",
    )
    g.add_argument(
        "--steps", type=int, default=None, help=f"steps of the base run ({full['steps']})"
    )
    g.add_argument(
        "--checkpoint-every", type=int, default=None, help=f"({full['checkpoint_every']})"
    )
    g.add_argument(
        "--sweep-steps",
        type=int,
        default=None,
        help=f"steps of each sweep run ({full['sweep_steps']})",
    )
    g.add_argument(
        "--sweep-epochs",
        type=float,
        default=None,
        help="run every sweep for this many epochs at its own batch size (overrides --sweep-steps)",
    )
    g.add_argument("--sweep-lr", type=float, nargs="+", default=None, help=f"({full['sweep_lr']})")
    g.add_argument(
        "--sweep-batch-size",
        type=int,
        nargs="+",
        default=None,
        help=f"({full['sweep_batch_size']})",
    )
    g.add_argument(
        "--sweep-momentum", type=float, nargs="+", default=None, help=f"({full['sweep_momentum']})"
    )
    g = p.add_argument_group("Hessian, phase space, noise")
    g.add_argument("--top-k", type=positive_int, default=None, help=f"eigenpairs ({full['top_k']})")
    g.add_argument(
        "--hessian-samples",
        type=int,
        default=None,
        help=f"fixed subset size ({full['hessian_samples']})",
    )
    g.add_argument(
        "--lanczos-iters", type=int, default=None, help="Lanczos steps at most (max(4k, k + 40))"
    )
    g.add_argument(
        "--lanczos-tol", type=float, default=1e-3, help="relative Ritz residual bound to stop at"
    )
    g.add_argument(
        "--project",
        type=int,
        nargs="+",
        default=None,
        help="1-based eigenvectors to project on at every step; 1 and k always "
        f"({full['project']})",
    )
    g.add_argument("--noise-batches", type=int, default=None, help=f"({full['noise_batches']})")
    g.add_argument(
        "--quadrature-probes",
        type=int,
        default=None,
        help="noise vectors of the tr(f(H) Sigma) Lanczos quadrature "
        f"({full['quadrature_probes']})",
    )
    g.add_argument(
        "--quadrature-steps",
        type=int,
        default=None,
        help="Lanczos steps (Gauss nodes) per probe: 20 integrate the smooth speed weight to "
        f"< 1e-3 relative on spectra spanning 1e4 ({full['quadrature_steps']})",
    )
    g.add_argument(
        "--surface-grid",
        type=int,
        default=None,
        help=f"loss surface points per axis ({full['surface_grid']})",
    )
    g = p.add_argument_group("energy drift (seed 000)")
    g.add_argument(
        "--energy-init",
        choices=("scratch", "pretrained"),
        default="scratch",
        help="start from a fresh network (seed 000's setting) or from theta*",
    )
    g.add_argument(
        "--energy-steps",
        type=int,
        default=None,
        help=f"({full['energy_steps']}: one epoch at batch 128)",
    )
    g.add_argument("--energy-seeds", type=int, default=None, help=f"({full['energy_seeds']})")
    g.add_argument(
        "--energy-points",
        type=int,
        default=None,
        help=f"step sizes per grid ({full['energy_points']})",
    )
    g.add_argument(
        "--energy-batch-size", type=int, default=None, help=f"({full['energy_batch_size']})"
    )
    g.add_argument("--leapfrog-band", type=float, nargs=2, default=[0.002, 0.0035])
    g.add_argument("--leapfrog-wide", type=float, nargs=2, default=[0.006, 0.016])
    g.add_argument("--sgd-lrs", type=float, nargs=2, default=[0.01, 0.08])
    g.add_argument("--adamw-lrs", type=float, nargs=2, default=[2e-4, 6e-4])
    g.add_argument("--adamw-weight-decay", type=float, default=0.01)
    g.add_argument("--damping", type=float, default=1e-3, help="leapfrog gamma")
    g.add_argument("--cap", type=float, default=2.0, help="energy cap alpha (H > alpha H_0)")
    g.add_argument(
        "--reversibility-steps", type=int, default=None, help=f"({full['reversibility_steps']})"
    )
    g = p.add_argument_group("conservation laws (seed 001)")
    g.add_argument(
        "--conservation-steps", type=int, default=None, help=f"({full['conservation_steps']})"
    )
    g.add_argument("--conservation-lr", type=float, default=0.1)
    g.add_argument("--conservation-momentum", type=float, default=0.0)
    g.add_argument("--conservation-weight-decay", type=float, default=5e-4)
    return p


#: Options that do not change results: left out of the saved configuration that --resume checks
#: (``target_acc`` may change on resume: a pretraining that missed it is not lost).
_RUNTIME_ONLY = {
    "out",
    "checkpoint",
    "data_root",
    "resume",
    "time_limit",
    "stop_after_steps",
    "threads",
    "command",
    "target_acc",
    "device",
    "plan",
}


def finalize(args) -> argparse.Namespace:
    """Fill unset options from the profile, then the preset (``smoke`` or ``full``); validate all.

    Raises
    ------
    dynlab.errors.HyperparameterError
        Naming the option, before any work is done or any file written.
    """
    preset = dict(
        PRESETS["linear" if args.model == "linear" else "smoke" if args.smoke else "full"]
    )
    if args.profile is not None:
        preset.update((PROFILES_SMOKE if args.smoke else PROFILES)[args.profile])
    for key, value in preset.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    validate(args)
    return args


class _Log:
    """Timestamped lines to stderr and ``OUT/log.txt`` (appended: a resumed run continues the
    log)."""

    def __init__(self, path: Path):
        self.path, self.t0 = path, time.monotonic()
        path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, msg: str) -> None:
        line = f"[{time.strftime('%Y-%m-%d %H:%M:%S')} +{time.monotonic() - self.t0:7.1f}s] {msg}"
        print(line, file=sys.stderr, flush=True)
        with open(self.path, "a") as f:
            f.write(line + "\n")


def main(args, parser: argparse.ArgumentParser | None = None) -> int:
    """Run the bridge with parsed ``args``; returns the exit status (0 done, 2 bad option,
    3 stopped, resumable). With the ``parser``, unusable paths are refused as argparse does."""
    try:
        args = finalize(args)
    except DynlabError as exc:
        print(f"resnet_bridge: error: {exc}", file=sys.stderr)
        return 2
    if args.plan is not None:
        from .bridge.plan import format_plan, work_plan

        n_train, n_test = args.n_train or 50_000, args.n_test or 10_000
        print(format_plan(work_plan(args, n_train, n_test, args.plan[1]), args.plan[0]))
        return 0
    if parser is not None:
        check_paths(parser, args)
    from .bridge.run import run  # torch is imported here, after the options are known good

    return run(args, _Log(args.out / "log.txt"), _RUNTIME_ONLY)


def check_paths(parser: argparse.ArgumentParser, args) -> None:
    """Refuse, as argparse does (one line, exit 2), a --data-root without CIFAR-10 and an --out
    that cannot be created (after the options are validated: nothing is written before)."""
    if args.data_root is not None and not args.data_root.exists():
        parser.error(
            f"--data-root: {args.data_root} does not exist; give the CIFAR-10 .npz pack, its "
            "folder, cifar-10-batches-py or an ImageFolder root"
        )
    with user_errors(parser, "--out", OUT_FIX):
        args.out.mkdir(parents=True, exist_ok=True)


if __name__ == "__main__":
    _parser = get_args_parser()
    _args = _parser.parse_args()
    _args.command = "python -m validation.resnet_bridge " + shlex.join(sys.argv[1:])
    sys.exit(main(_args, _parser))
