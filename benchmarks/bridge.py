"""ResNet-18 / CIFAR-10 bridge: cost of the instrumentation, of pretraining and of the Hessian.

Usage::

    python benchmarks/bridge.py --data-root DIR          # on the GPU (the target)
    python benchmarks/bridge.py --tiny                                      # CPU sanity check

Measured in one run, on one device:

* images/s of the instrumented resumed training step of ``validation.resnet_bridge``
  (:class:`validation.bridge.train.InstrumentedSGD`: flat parameters, heavy-ball step, per-step
  ||delta||^2, ||Delta||^2, loss and the projections on ``--project`` eigenvectors written into a
  device buffer, copied out once per ``--chunk`` steps) against a bare loop of the same model,
  batch and precision (``torch.optim.SGD(foreach=True)``, no observables), interleaved in
  ``--repeat`` rounds; printed: best-of rates and the overhead ``1 - instrumented / bare``
  (goal <= 10% on the GPU);
* pretraining: seconds per epoch of the recipe (Nesterov SGD, augmentation on the device, bf16 and
  channels_last on CUDA) over ``--pretrain-steps`` steps, and the projected time of ``--epochs``;
* the Lanczos eigensolver for the top ``--k`` Hessian eigenpairs on ``--hessian-samples`` images:
  wall time, Hessian-vector products, seconds per product.

Without ``--data-root``, random images stand in for CIFAR-10 (speed does not depend on pixel
values).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from validation.bridge.data import BatchStream, DeviceData, load_cifar10
from validation.bridge.flat import FlatParams
from validation.bridge.hessian import fixed_batches, top_eigenpairs
from validation.bridge.train import InstrumentedSGD, Runtime, SGDRun, build_model


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _images(args):
    if args.data_root is not None:
        d = load_cifar10(args.data_root, n_train=args.n_train, n_test=1)
        return d.train_x, d.train_y
    rng = np.random.default_rng(0)
    n = args.n_train or 50_000
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n)


def train_steps(model, opt, stream, rt, steps) -> float:
    """Images/s of a plain training loop: forward, backward, ``opt.step()``."""
    _sync(rt.device)
    t0 = time.perf_counter()
    for k in range(steps):
        x, y = stream.batch(k)
        with rt.autocast():
            loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    _sync(rt.device)
    return steps * stream.batch_size / (time.perf_counter() - t0)


def instrumented_rate(sgd, stream, rt, steps, chunk) -> float:
    """Images/s of the instrumented step, including the chunked copies of the record to the host."""
    rec = torch.empty(chunk, sgd.ncol, device=rt.device)
    host = []
    _sync(rt.device)
    t0 = time.perf_counter()
    n = 0
    for k in range(steps):
        sgd.step(*stream.batch(k), rec[n])
        n += 1
        if n == chunk or k == steps - 1:
            host.append(rec[:n].cpu())
            n = 0
    _sync(rt.device)
    return steps * stream.batch_size / (time.perf_counter() - t0)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default=None)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument(
        "--tiny", action="store_true", help="CPU sanity check: width 4, batch 8, a few steps, k = 3"
    )
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=200, help="timed steps per round")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--chunk", type=int, default=500)
    p.add_argument("--project", type=int, default=6, help="eigenvectors projected on at every step")
    p.add_argument("--k", type=int, default=30)
    p.add_argument("--hessian-samples", type=int, default=2048)
    p.add_argument("--pretrain-steps", type=int, default=100)
    p.add_argument("--pretrain-batch-size", type=int, default=256)
    p.add_argument(
        "--epochs", type=int, default=40, help="pretraining epochs to project the time of"
    )
    p.add_argument("--n-train", type=int, default=None)
    a = p.parse_args(argv)
    if a.tiny:
        a.width, a.batch_size, a.steps, a.warmup, a.repeat, a.k = 4, 8, 10, 2, 2, 3
        a.hessian_samples, a.pretrain_steps, a.pretrain_batch_size, a.project = 16, 5, 8, 2
        a.n_train = a.n_train or 256
        torch.set_num_threads(1)
    rt = Runtime.for_device(a.device)
    if rt.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    x, y = _images(a)
    data = DeviceData(x, y, rt.device, channels_last=rt.channels_last)
    print(
        f"device {rt.device} "
        f"({torch.cuda.get_device_name() if rt.device.type == 'cuda' else platform.machine()}), "
        f"torch {torch.__version__}, bf16 autocast {rt.amp}, channels_last {rt.channels_last}"
    )
    print(
        f"ResNet-18 width {a.width}, batch {a.batch_size}, {data.n} images on the device"
        + (" (random stand-ins)" if a.data_root is None else "")
    )

    torch.manual_seed(0)
    star = build_model(a.width, rt).state_dict()
    run = SGDRun(
        "bench",
        lr=1e-3,
        momentum=0.9,
        weight_decay=5e-4,
        batch_size=a.batch_size,
        steps=0,
        augment=False,
        seed=0,
    )
    bare_model = build_model(a.width, rt, star).train()
    inst_model = build_model(a.width, rt, star).train()
    n_params = sum(q.numel() for q in inst_model.parameters())
    Q = torch.linalg.qr(torch.randn(n_params, a.project, device=rt.device))[0].T.contiguous()
    sgd = InstrumentedSGD(inst_model, run, Q=Q, autocast=rt.autocast)
    stream = BatchStream(data, a.batch_size, seed=0, stream=0, augment=False)
    bare_opt = torch.optim.SGD(
        bare_model.parameters(),
        lr=run.lr,
        momentum=run.momentum,
        weight_decay=run.weight_decay,
        foreach=True,
    )
    train_steps(bare_model, bare_opt, stream, rt, a.warmup)
    instrumented_rate(sgd, stream, rt, a.warmup, a.chunk)
    bare, inst = [], []
    for _ in range(a.repeat):  # interleaved rounds: drifts of the machine hit both alike
        bare.append(train_steps(bare_model, bare_opt, stream, rt, a.steps))
        inst.append(instrumented_rate(sgd, stream, rt, a.steps, a.chunk))
    b, i = max(bare), max(inst)
    print(
        f"training ({a.steps} steps x {a.repeat} rounds, best): bare {b:,.0f} images/s, "
        f"instrumented {i:,.0f} "
        f"images/s (||delta||^2, ||Delta||^2, loss, {a.project} projections); ratio {i / b:.3f}, "
        f"overhead {100 * (1 - i / b):.1f}% (goal <= 10% on the GPU)"
    )

    pre = build_model(a.width, rt).train()
    opt = torch.optim.SGD(
        pre.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4, foreach=True
    )
    pstream = BatchStream(data, a.pretrain_batch_size, seed=0, stream=1, augment=True)

    train_steps(pre, opt, pstream, rt, max(1, a.warmup // 2))
    rate = train_steps(pre, opt, pstream, rt, a.pretrain_steps)
    epoch = 50_000 / rate
    print(
        f"pretraining (batch {a.pretrain_batch_size}, augmentation on the device): "
        f"{rate:,.0f} images/s, {epoch:.1f} s per 50,000-image epoch, "
        f"{a.epochs} epochs ~ {a.epochs * epoch / 60:.1f} min"
    )

    hmodel = build_model(a.width, rt, star)
    flat = FlatParams(hmodel)
    batches = fixed_batches(data, min(a.hessian_samples, data.n), a.batch_size)
    eig = top_eigenpairs(hmodel, flat, batches, a.k, seed=0)
    print(
        f"Hessian top-{a.k} (Lanczos, {sum(len(t) for _, t in batches)} images, float32): "
        f"{eig.seconds:.1f} s, "
        f"{eig.n_matvec} Hessian-vector products ({eig.seconds / eig.n_matvec:.3f} s each), "
        f"max residual / rho_1 {np.max(eig.residuals) / abs(eig.rho[0]):.1e} "
        "(at a random init, not theta*)"
    )


if __name__ == "__main__":
    main()
