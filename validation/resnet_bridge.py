"""ResNet-18 on CIFAR-10: seed 003's observables (and seeds 000, 001) on a real network.

    python -m validation.resnet_bridge --data-root DIR --out DIR [--checkpoint PATH]
        [--experiments diffusion speed hessian phase noise energy conservation] [--device cuda]
        [--resume] [--time-limit SECONDS] [--smoke]

Loads CIFAR-10 (python batches, ImageFolder or the JPEG ``.npz`` pack) onto the device once;
without ``--checkpoint`` pretrains a CIFAR ResNet-18 (bf16 autocast, channels_last on CUDA) and
saves it; then resumes plain SGD from it (seed 003's "end of training" setting) and measures, on
the device without per-step host synchronization, the experiments listed in
``docs/resnet_bridge.md``. Writes ``report.md``, ``results.json``, PNG figures and ``log.txt`` to
``--out``; every phase checkpoints atomically into ``--out/state``, so a killed or time-limited
run continues with ``--resume`` and computes exactly what it would have computed uninterrupted.

``--smoke`` runs the whole pipeline on a tiny subset with a narrow network on the CPU.
Exit status: 0 when the report is complete, 3 when stopped by ``--time-limit`` or
``--stop-after-steps`` (rerun with ``--resume``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import torch

from validation.report import OUT_FIX, Report, positive_int, seed_int, user_errors

from .bridge import experiments as ex
from .bridge.checkpoint import Budget, Interrupted, StateDir
from .bridge.data import DeviceData, load_cifar10
from .bridge.model import ResNet18
from .bridge.pipeline import EXPERIMENTS, Context, needed_phases, run_phases
from .bridge.train import Runtime

__all__ = ["get_args_parser", "main", "PRESETS"]

#: Settings of the real run (``full``) and of ``--smoke``; any option given on the command line wins.
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
        steps=10000,
        checkpoint_every=500,
        sweep_steps=1000,
        sweep_lr=[1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
        sweep_batch_size=[32, 64, 128, 256, 512, 1024],
        sweep_momentum=[0.8, 0.85, 0.9, 0.95, 0.99],
        top_k=30,
        hessian_samples=2048,
        lanczos_iters=None,
        project=[1, 2, 5, 10, 20, 30],
        noise_batches=200,
        surface_grid=15,
        energy_steps=390,
        energy_seeds=3,
        energy_points=4,
        energy_batch_size=128,
        reversibility_steps=100,
        conservation_steps=2000,
        device=None,
        threads=None,
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
        steps=60,
        checkpoint_every=25,
        sweep_steps=24,
        sweep_lr=[5e-4, 2e-3],
        sweep_batch_size=[8, 16],
        sweep_momentum=[0.8, 0.95],
        top_k=3,
        hessian_samples=16,
        lanczos_iters=12,
        project=[1, 3],
        noise_batches=8,
        surface_grid=3,
        energy_steps=5,
        energy_seeds=2,
        energy_points=3,
        energy_batch_size=8,
        reversibility_steps=3,
        conservation_steps=12,
        device="cpu",
        threads=1,
    ),
}


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
        required=True,
        help="CIFAR-10: the .npz pack (or its folder), cifar-10-batches-py, or an ImageFolder root",
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
        "--experiments", nargs="+", choices=sorted(EXPERIMENTS), default=sorted(EXPERIMENTS)
    )
    p.add_argument(
        "--device", default=None, help="torch device (default: cuda if available, else cpu)"
    )
    p.add_argument("--smoke", action="store_true", help="tiny data, narrow network, few steps, CPU")
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
        help="stop cleanly (exit 3, resumable) after N steps (optimizer steps, Hv products, gradients)",
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
    g.add_argument("--lr", type=float, default=1e-3)
    g.add_argument("--momentum", type=float, default=0.9)
    g.add_argument("--weight-decay", type=float, default=5e-4)
    g.add_argument("--batch-size", type=positive_int, default=None, help="(128; smoke 8)")
    g.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="augment batches of the resumed runs (off: the loss is that of the Hessian and noise estimates)",
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
        help=f"1-based eigenvectors to project on at every step; 1 and k always ({full['project']})",
    )
    g.add_argument("--noise-batches", type=int, default=None, help=f"({full['noise_batches']})")
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


#: Options that do not change results: left out of the saved configuration that --resume checks.
_RUNTIME_ONLY = {
    "out",
    "checkpoint",
    "data_root",
    "resume",
    "time_limit",
    "stop_after_steps",
    "threads",
    "command",
}


def _finalize(args) -> argparse.Namespace:
    preset = PRESETS["smoke" if args.smoke else "full"]
    for key, value in preset.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.batch_size is None:
        args.batch_size = 8 if args.smoke else 128
    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    return args


class _Log:
    """Timestamped lines to stderr and ``OUT/log.txt`` (appended: a resumed run continues the log)."""

    def __init__(self, path: Path):
        self.path, self.t0 = path, time.monotonic()
        path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, msg: str) -> None:
        line = f"[{time.strftime('%Y-%m-%d %H:%M:%S')} +{time.monotonic() - self.t0:7.1f}s] {msg}"
        print(line, file=sys.stderr, flush=True)
        with open(self.path, "a") as f:
            f.write(line + "\n")


def main(args) -> int:
    """Run the bridge with parsed ``args``; returns the exit status (0 done, 3 stopped, resumable)."""
    args = _finalize(args)
    log = _Log(args.out / "log.txt")
    log(f"start: {getattr(args, 'command', None) or 'main(args)'}")
    config = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in vars(args).items()
        if k not in _RUNTIME_ONLY
    }
    state = StateDir(args.out, config, resume=args.resume)
    rt = Runtime.for_device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if rt.device.type == "cuda":
        torch.backends.cudnn.benchmark = (
            True  # fixed input shapes: let cuDNN pick its fastest kernels
        )
    torch.manual_seed(args.seed)
    data = load_cifar10(args.data_root, n_train=args.n_train, n_test=args.n_test)
    log(f"data: {len(data.train_y)} train / {len(data.test_y)} test images from {data.source}")
    train = DeviceData(data.train_x, data.train_y, rt.device, channels_last=rt.channels_last)
    test = DeviceData(data.test_x, data.test_y, rt.device, channels_last=rt.channels_last)
    budget = Budget(args.stop_after_steps, args.time_limit)
    ctx = Context(args, rt, train, test, state, budget, log)
    try:
        res = run_phases(ctx, args.experiments)
    except Interrupted as stop:
        log(f"{stop}; state saved in {state.dir}: rerun with --resume to continue")
        return 3
    rep = Report(
        args.out,
        "ResNet-18 / CIFAR-10 bridge" + (" (smoke run)" if args.smoke else ""),
        command=getattr(args, "command", None)
        or "validation.resnet_bridge.main(args), in-process: settings in state/config.json",
    )
    n_params = sum(p.numel() for p in ResNet18(res["theta_star"]["width"]).parameters())
    head = {"setup": ex.setup(rep, res, args, rt, train.n, test.n, data.source, n_params)}
    phases = needed_phases(args.experiments)
    for name in ("diffusion", "speed", "hessian", "phase", "noise", "energy", "conservation"):
        if name in args.experiments and all(p in res for p in EXPERIMENTS[name]):
            head[name] = getattr(ex, name)(rep, res, args)
    head["performance"] = ex.performance(rep, res, args)
    rep.section(
        "Predictions",
        "Every predicted-vs-measured row (z = (measured - predicted) / std. error; "
        "'approx': a model whose gap is being measured).",
    )
    rep.prediction_table()
    rep.value("headline", head)
    rep.value("phases", phases)
    path = rep.write()
    log(f"done: {path}")
    return 0


def check_paths(parser: argparse.ArgumentParser, args) -> None:
    """Refuse, as argparse does (one line, exit 2), a --data-root without CIFAR-10 and an --out
    that cannot be created."""
    if not args.data_root.exists():
        parser.error(
            f"--data-root: {args.data_root} does not exist; give the CIFAR-10 .npz pack, its "
            "folder, cifar-10-batches-py or an ImageFolder root"
        )
    with user_errors(parser, "--out", OUT_FIX):
        args.out.mkdir(parents=True, exist_ok=True)


if __name__ == "__main__":
    _parser = get_args_parser()
    _args = _parser.parse_args()
    check_paths(_parser, _args)
    _args.command = "python -m validation.resnet_bridge " + shlex.join(sys.argv[1:])
    sys.exit(main(_args))
