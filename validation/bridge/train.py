"""Pretraining, evaluation and the instrumented resumed-SGD run of seed 003 section 2.

Everything per step stays on the device: batches are cut and augmented there
(:mod:`.data`), the losses and observables of each step are written into a preallocated device
buffer, and the host copies that buffer out once per chunk (``--checkpoint-every`` steps), when it
also writes a checkpoint. On CUDA the forward and backward passes run under bf16 autocast with
channels_last tensors; parameters, momentum and observables stay float32.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import torch
from torch import nn

from dynlab.progress import progress

from .checkpoint import Budget, Interrupted, StateDir
from .data import BatchStream, DeviceData
from .flat import FlatParams, heavy_ball_step
from .model import MODELS, standard_state_dict
from .records import RUN_COLUMNS

__all__ = [
    "Runtime",
    "build_model",
    "evaluate",
    "pretrain",
    "SGDRun",
    "InstrumentedSGD",
    "run_sgd",
    "RUN_COLUMNS",
]


@dataclass(frozen=True)
class Runtime:
    """Where and how to compute: device, bf16 autocast, channels_last, and the model (a key
    of :data:`.model.MODELS`)."""

    device: torch.device
    amp: bool
    channels_last: bool
    model: str = "resnet18"

    @classmethod
    def for_device(cls, device, model: str = "resnet18") -> "Runtime":
        """bf16 autocast and channels_last on CUDA for the ResNet; plain float32 elsewhere."""
        device = torch.device(device)
        fast = device.type == "cuda" and model == "resnet18"
        return cls(device, amp=fast, channels_last=fast, model=model)

    def autocast(self):
        """bf16 autocast context on CUDA when enabled, else a no-op."""
        return torch.autocast("cuda", dtype=torch.bfloat16) if self.amp else nullcontext()


def build_model(width: int, rt: Runtime, state_dict=None) -> nn.Module:
    """The model ``rt.model`` (a ResNet-18 by default) on ``rt.device`` in its memory format,
    optionally loaded.

    ``state_dict`` may use another CIFAR ResNet-18 layout (:func:`.model.standard_state_dict`).
    """
    model = MODELS[rt.model](width)
    if state_dict is not None:
        model.load_state_dict(standard_state_dict(state_dict))
    model = model.to(rt.device)
    if rt.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


@torch.no_grad()
def evaluate(
    model: nn.Module, data: DeviceData, rt: Runtime, batch_size: int = 1000
) -> tuple[float, float]:
    """Mean loss (``model.criterion``) and accuracy of ``model`` on ``data`` (eval mode: running
    BN stats)."""
    was = model.training
    model.eval()
    loss = torch.zeros((), device=rt.device)
    correct = torch.zeros((), device=rt.device, dtype=torch.long)
    for x, y in data.chunks(batch_size):
        with rt.autocast():
            out = model(x)
        loss += model.criterion(out.float(), y, reduction="sum")
        correct = correct + model.n_correct(out, y)
    model.train(was)
    return float(loss) / data.n, float(correct) / data.n


@dataclass(frozen=True)
class PretrainConfig:
    """Pretraining recipe: SGD + Nesterov momentum, linear warm-up then cosine decay to 0."""

    epochs: int
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    warmup_epochs: float
    seed: int


def _lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return 0.5 * peak * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


#: Stream ids of :class:`BatchStream`: independent batch sequences for each use.
STREAM_PRETRAIN, STREAM_RESUME, STREAM_NOISE, STREAM_ENERGY, STREAM_CONSERVATION = range(5)


def pretrain(
    width,
    cfg: PretrainConfig,
    train: DeviceData,
    test: DeviceData,
    rt: Runtime,
    state: StateDir,
    budget: Budget,
    log,
) -> dict:
    """Train a ResNet-18 from scratch with augmentation; returns ``{"model": state_dict, ...}``.

    Resumable at any step: the checkpoint ``pretrain_partial`` holds the model, the optimizer
    and the step; batches of step k are the same in every invocation.
    """
    torch.manual_seed(cfg.seed)
    model = build_model(width, rt)
    opt = torch.optim.SGD(
        model.parameters(),
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=True,
        weight_decay=cfg.weight_decay,
        foreach=True,
    )
    stream = BatchStream(train, cfg.batch_size, seed=cfg.seed, stream=STREAM_PRETRAIN, augment=True)
    spe = stream.steps_per_epoch
    total, warmup = cfg.epochs * spe, int(round(cfg.warmup_epochs * spe))
    step, seconds, history = 0, 0.0, []
    part = state.load("pretrain_partial")
    if part is not None:
        model.load_state_dict(part["model"])
        opt.load_state_dict(part["optimizer"])
        step, seconds, history = part["step"], part["seconds"], part["history"]
        log(f"pretrain: resuming at step {step}/{total}")
    model.train()
    t0 = time.monotonic()
    loss_sum = torch.zeros((), device=rt.device)

    def checkpoint():
        state.save(
            "pretrain_partial",
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "step": step,
                "seconds": seconds + time.monotonic() - t0,
                "history": history,
            },
        )

    bar = progress(total=total, desc="pretrain", unit="step")
    bar.update(step)
    while step < total:
        if budget.exhausted:
            checkpoint()
            raise Interrupted(f"pretrain stopped at step {step}/{total}")
        for g in opt.param_groups:
            g["lr"] = _lr_at(step, total, warmup, cfg.lr)
        x, y = stream.batch(step)
        with rt.autocast():
            loss = model.criterion(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.detach()
        step += 1
        budget.tick()
        bar.update()
        if step % spe == 0:
            test_loss, test_acc = evaluate(model, test, rt)
            history.append(
                {
                    "epoch": step // spe,
                    "train_loss": float(loss_sum) / spe,
                    "test_loss": test_loss,
                    "test_acc": test_acc,
                }
            )
            loss_sum.zero_()
            log(
                f"pretrain epoch {step // spe}/{cfg.epochs}: "
                f"train loss {history[-1]['train_loss']:.4f}, test acc {test_acc:.4f}"
            )
            checkpoint()
    bar.close()
    seconds += time.monotonic() - t0
    test_loss, test_acc = evaluate(model, test, rt)
    return {
        "model": model.state_dict(),
        "width": width,
        "test_acc": test_acc,
        "test_loss": test_loss,
        "seconds": seconds,
        "history": history,
        "config": asdict(cfg),
    }


@dataclass(frozen=True)
class SGDRun:
    """One resumed plain-SGD run from theta* (seed 003's "end of training" setting)."""

    name: str
    lr: float
    momentum: float
    weight_decay: float
    batch_size: int
    steps: int
    augment: bool
    seed: int
    sampling: str = "reshuffle"


class InstrumentedSGD:
    """Plain SGD on a flat-parameter model that writes each step's observables into a device row.

    Parameters
    ----------
    model : nn.Module
        In train mode, at theta* (its current parameters are the reference of Delta).
    run : SGDRun
    Q : (m, n) tensor, optional
        Eigenvectors to project position and momentum buffer onto.
    autocast : callable
        Context manager of the forward pass.
    """

    def __init__(self, model: nn.Module, run: "SGDRun", *, Q=None, autocast=nullcontext):
        self.model, self.run, self.Q, self.autocast = model, run, Q, autocast
        self.flat = FlatParams(model)
        self.theta_star = self.flat.theta.clone()
        self.buf = torch.zeros_like(self.flat.theta)
        self.prev, self.scratch = (torch.empty_like(self.flat.theta) for _ in range(2))
        self.D = torch.empty_like(self.flat.theta)  # theta_k - theta*
        self.ncol = len(RUN_COLUMNS) + (0 if Q is None else 2 * Q.shape[0])

    def step(self, x, y, row: torch.Tensor) -> None:
        """One update on batch ``(x, y)``; its observables go to ``row`` (ncol,), no host sync."""
        flat, r = self.flat, self.run
        with self.autocast():
            loss = self.model.criterion(self.model(x), y)
        flat.zero_grad()
        loss.backward()
        self.prev.copy_(flat.theta)
        # (theta_k - theta*)^T (g + weight_decay theta_k), before the update moves theta (D is
        # recomputed here, not carried from the last step, so that a resumed run matches)
        torch.sub(flat.theta, self.theta_star, out=self.D)
        theta_g = self.D.dot(flat.grad) + r.weight_decay * self.D.dot(flat.theta)
        heavy_ball_step(
            flat.theta,
            flat.grad,
            self.buf,
            self.scratch,
            lr=r.lr,
            momentum=r.momentum,
            weight_decay=r.weight_decay,
        )
        self.prev.sub_(flat.theta)  # -(theta_{k+1} - theta_k), exact (Sterbenz) for small steps
        torch.sub(flat.theta, self.theta_star, out=self.D)
        n = len(RUN_COLUMNS)
        torch.stack(
            [loss.detach().float(), self.prev.dot(self.prev), self.D.dot(self.D), theta_g],
            out=row[:n],
        )
        if self.Q is not None:
            m = self.Q.shape[0]
            torch.mv(self.Q, self.D, out=row[n : n + m])
            torch.mv(self.Q, self.buf, out=row[n + m :])


def run_sgd(
    run: SGDRun,
    theta_star: dict,
    width: int,
    train: DeviceData,
    rt: Runtime,
    state: StateDir,
    budget: Budget,
    log,
    *,
    Q: torch.Tensor | None = None,
    test: DeviceData | None = None,
    chunk: int = 500,
) -> dict:
    """Resume SGD from ``theta_star`` and record the observables of every step on the device.

    Parameters
    ----------
    run : SGDRun
    theta_star : dict
        State dict of the pretrained network (parameters and BN running statistics).
    Q : (m, n) tensor, optional
        Eigenvectors (rows, flat layout of :class:`FlatParams` for this width and runtime) to
        project position and velocity onto at every step.
    test : DeviceData, optional
        Evaluate the final network on it (``test_loss``, ``test_acc`` in the result).
    chunk : int
        Steps between host copies of the record and checkpoints.

    Returns
    -------
    dict with ``record`` ((steps, 4 + 2m) float64 array, columns :data:`RUN_COLUMNS` then the
    projections), ``seconds`` (training wall time), ``run`` (the settings), and the final test
    loss and accuracy when ``test`` is given.
    """
    done = state.load(f"run_{run.name}")
    if done is not None:
        return done
    model = build_model(width, rt, theta_star).train()
    sgd = InstrumentedSGD(model, run, Q=Q, autocast=rt.autocast)
    start, rows, seconds = 0, [], 0.0
    part = state.load(f"run_{run.name}_partial")
    if part is not None:
        model.load_state_dict(part["model"])
        sgd.buf.copy_(part["buf"])
        start, rows, seconds = part["step"], [part["record"]], part["seconds"]
        log(f"run {run.name}: resuming at step {start}/{run.steps}")
    stream = BatchStream(
        train,
        run.batch_size,
        seed=run.seed,
        stream=STREAM_RESUME,
        augment=run.augment,
        sampling=run.sampling,
    )
    rec = torch.empty(chunk, sgd.ncol, device=rt.device, dtype=torch.float32)
    t0 = time.monotonic()

    def flush(k, n):
        rows.append(rec[:n].double().cpu())
        state.save(
            f"run_{run.name}_partial",
            {
                "model": model.state_dict(),
                "buf": sgd.buf,
                "step": k,
                "record": torch.cat(rows),
                "seconds": seconds + time.monotonic() - t0,
            },
        )
        rows[:] = [torch.cat(rows)]

    bar = progress(total=run.steps, desc=f"run {run.name}", unit="step")
    bar.update(start)
    k, n = start, 0
    while k < run.steps:
        if budget.exhausted:
            flush(k, n)
            raise Interrupted(f"run {run.name} stopped at step {k}/{run.steps}")
        sgd.step(*stream.batch(k), rec[n])
        k, n = k + 1, n + 1
        budget.tick()
        bar.update()
        if n == chunk or k == run.steps:
            flush(k, n)
            n = 0
    bar.close()
    record = torch.cat(rows)
    if Q is not None:
        record[:, len(RUN_COLUMNS) + Q.shape[0] :] *= -1.0  # q^T v with v = -buf
    out = {"record": record, "seconds": seconds + time.monotonic() - t0, "run": asdict(run)}
    if test is not None:
        out["test_loss"], out["test_acc"] = evaluate(model, test, rt)
    state.save(f"run_{run.name}", out)
    state.drop(f"run_{run.name}_partial")
    return out
