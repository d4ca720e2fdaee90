"""The torch half of ``python -m validation.resnet_bridge``: data, state, phases, staged report.

Called with settings that :func:`validation.resnet_bridge.finalize` has already validated;
checks the batch sizes against the loaded data before the state folder is created, so a bad
option never locks ``--out``.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import torch

from dynlab.errors import DynlabError

from .checkpoint import Budget, Interrupted, StateDir, StateError, file_digest
from .data import STREAMS_VERSION, DeviceData, load_cifar10
from .experiments import report_dir, tarball, write_report
from .linear import FeatureData, regression_data
from .model import MODELS
from .pipeline import Context, TargetNotReached, run_phases
from .settings import validate_data_size
from .train import Runtime

__all__ = ["run", "data_fingerprint"]


def data_fingerprint(data) -> str:
    """SHA-256 of the loaded images and labels (what the results depend on, not the file)."""
    h = hashlib.sha256()
    for arr in (data.train_x, data.train_y, data.test_x, data.test_y):
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def run(args, log, runtime_only: set) -> int:
    """Run the phases with staged reports; returns the exit status (see the CLI's docstring)."""
    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    rt = Runtime.for_device(args.device, args.model)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if rt.device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input shapes: cuDNN picks its kernels
    torch.manual_seed(args.seed)
    log(f"start: {getattr(args, 'command', None) or 'main(args)'}")
    if args.model == "linear":
        data = regression_data(args.n_train, args.n_test, args.width, args.seed)
    else:
        data = load_cifar10(args.data_root, n_train=args.n_train, n_test=args.n_test)
    try:
        validate_data_size(args, len(data.train_y), len(data.test_y))
    except DynlabError as exc:
        print(f"resnet_bridge: error: {exc}", file=sys.stderr)
        return 2
    log(f"data: {len(data.train_y)} train / {len(data.test_y)} test images from {data.source}")
    config = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in vars(args).items()
        if k not in runtime_only
    }
    config["data_sha256"] = data_fingerprint(data)
    config["streams_version"] = STREAMS_VERSION
    ck = args.checkpoint
    config["checkpoint_sha256"] = file_digest(ck) if ck is not None and ck.exists() else None
    try:
        state = StateDir(args.out, config, resume=args.resume)
    except (DynlabError, FileExistsError) as exc:
        print(f"resnet_bridge: error: {exc}", file=sys.stderr)
        return 2
    if args.model == "linear":
        train = FeatureData(data.train_x, data.train_y, rt.device)
        test = FeatureData(data.test_x, data.test_y, rt.device)
    else:
        train = DeviceData(data.train_x, data.train_y, rt.device, channels_last=rt.channels_last)
        test = DeviceData(data.test_x, data.test_y, rt.device, channels_last=rt.channels_last)
    ctx = Context(args, rt, train, test, state, Budget(args.stop_after_steps, args.time_limit), log)
    meta = {
        "run_id": state.run_id,
        "command": getattr(args, "command", None)
        or "validation.resnet_bridge.main(args), in-process: settings in state/config.json",
        "device": str(rt.device),
        "amp": rt.amp,
        "channels_last": rt.channels_last,
        "source": data.source,
        "n_train": train.n,
        "n_test": test.n,
    }

    def staged(res, figures=False):
        if "theta_star" in res:
            width = res["theta_star"]["width"]
            meta["n_params"] = sum(p.numel() for p in MODELS[args.model](width).parameters())
            write_report(args.out, res, args, meta, figures=figures)

    status = 0
    try:
        run_phases(ctx, args.experiments, on_phase=staged)
    except Interrupted as stop:
        log(f"{stop}; state saved in {state.dir}: rerun with --resume to continue")
        status = 3
    except TargetNotReached as exc:
        log(str(exc))
        status = 4
    except StateError as exc:
        print(f"resnet_bridge: error: {exc}", file=sys.stderr)
        return 2
    staged(ctx.results, figures=True)
    folder = report_dir(args.out)
    if args.profile is not None and folder.exists():
        log(f"report archive: {tarball(folder)}")
    log(("done: " if status == 0 else "partial report: ") + str(folder / "report.md"))
    print(folder / "report.md")
    return status
