"""The phases of ``python -m validation.resnet_bridge``, in order, each resumable.

theta* (load or pretrain) -> Hessian eigenpairs -> base run (diffusion, phase space) -> speed sweeps
-> gradient noise -> loss surfaces -> conservation laws (seed 001) -> energy drift (seed 000).
Each phase saves its result in ``OUT/state/`` when done and is skipped when that file exists;
long phases also save partial states (see :mod:`.checkpoint`).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from dynlab.traces import gauss_rules

from .checkpoint import load, save
from .context import Context, TargetNotReached
from .flat import FlatParams
from .hessian import fixed_batches, hvp_operator, loss_surface, top_eigenpairs
from .noise import minibatch_gradients
from .pipeline_seeds import phase_conservation, phase_energy
from .records import RUN_COLUMNS
from .settings import needed_phases, sweep_settings, sweep_steps
from .train import (
    STREAM_NOISE,
    PretrainConfig,
    SGDRun,
    build_model,
    evaluate,
    pretrain,
    run_sgd,
)

__all__ = ["Context", "TargetNotReached", "run_phases"]


def _width_of(state_dict: dict) -> int:
    """Width of a CIFAR ResNet-18 state dict: the stem's output channels."""
    for key, value in state_dict.items():
        if key.endswith("conv1.weight") and ".layer" not in "." + key and value.ndim == 4:
            return int(value.shape[0])
    raise ValueError("--checkpoint: no stem 'conv1.weight' in the state dict (see docs)")


def theta_star(ctx: Context) -> dict:
    """The pretrained network: from ``--checkpoint`` or pretrained here (and saved)."""
    a = ctx.args
    if a.checkpoint is not None and a.checkpoint.exists():
        ck = load(a.checkpoint, verify=False)  # a user's file: no checksum beside it
        sd = ck["model"] if "model" in ck else ck.get("state_dict", ck)
        width = int(ck["width"]) if "width" in ck else _width_of(sd)
        model = build_model(width, ctx.rt, sd)
        test_loss, test_acc = evaluate(model, ctx.test, ctx.rt)
        ctx.log(f"theta*: loaded {a.checkpoint} (width {width}): test accuracy {test_acc:.4f}")
        return {
            "model": sd,
            "width": width,
            "test_acc": test_acc,
            "test_loss": test_loss,
            "seconds": None,
            "history": [],
            "source": str(a.checkpoint),
        }
    done = ctx.state.load("pretrained")
    if done is None:
        cfg = PretrainConfig(
            epochs=a.pretrain_epochs,
            batch_size=a.pretrain_batch_size,
            lr=a.pretrain_lr,
            momentum=0.9,
            weight_decay=a.pretrain_weight_decay,
            warmup_epochs=a.pretrain_warmup,
            seed=a.seed,
        )
        done = pretrain(a.width, cfg, ctx.train, ctx.test, ctx.rt, ctx.state, ctx.budget, ctx.log)
        done["source"] = "pretrained in this run"
        ctx.state.save("pretrained", done)
        ctx.state.drop("pretrain_partial")
        target = a.checkpoint if a.checkpoint is not None else a.out / "pretrained.pt"
        save(target, {"model": done["model"], "width": done["width"], "test_acc": done["test_acc"]})
        ctx.log(
            f"pretrain: test accuracy {done['test_acc']:.4f} in {done['seconds']:.0f} s; saved "
            f"{target}"
        )
    return done


def projected_indices(k: int, wanted) -> list[int]:
    """0-based indices of the eigenvectors to project on at every step: ``wanted`` (1-based) plus 1
    and k."""
    idx = sorted({1, k} | {i for i in wanted if 1 <= i <= k})
    return [i - 1 for i in idx]


def phase_hessian(ctx: Context, star: dict) -> dict:
    a = ctx.args
    model = build_model(star["width"], ctx.rt, star["model"])
    flat = FlatParams(model)
    batches = fixed_batches(ctx.train, min(a.hessian_samples, ctx.train.n), a.batch_size)
    eig = top_eigenpairs(
        model, flat, batches, a.top_k, max_iter=a.lanczos_iters, tol=a.lanczos_tol, seed=a.seed
    )
    ctx.budget.tick(eig.n_matvec)
    ctx.log(
        f"hessian: top-{a.top_k} in {eig.seconds:.1f} s, {eig.n_matvec} Hv products; rho_1 = "
        f"{eig.rho[0]:.4g}, "
        f"max relative residual {np.max(eig.residuals) / abs(eig.rho[0]):.2e}"
    )
    return {
        "rho": torch.as_tensor(eig.rho),
        "Q": eig.Q.cpu(),
        "residuals": torch.as_tensor(eig.residuals),
        "ritz_bounds": torch.as_tensor(eig.ritz_bounds),
        "n_matvec": eig.n_matvec,
        "n_iter": eig.n_iter,
        "seconds": eig.seconds,
        "samples": sum(len(y) for _, y in batches),
        "n_params": flat.n,
    }


def base_run(ctx: Context) -> SGDRun:
    a = ctx.args
    return SGDRun(
        "base",
        lr=a.lr,
        momentum=a.momentum,
        weight_decay=a.weight_decay,
        batch_size=a.batch_size,
        steps=a.steps,
        augment=a.augment,
        seed=a.seed,
        sampling=a.sampling,
    )


def sweep_runs(ctx: Context) -> list[tuple[str, float, SGDRun]]:
    """(hyperparameter, value, run) of the lr, batch-size and momentum sweeps (seed 003 Fig. 6).

    Each runs ``--sweep-steps`` steps, or ``--sweep-epochs`` epochs at its own batch size.
    """
    a = ctx.args
    out = []
    for key, value, hp in sweep_settings(a):
        run = SGDRun(
            f"{key}={value:g}",
            lr=float(hp.lr),
            momentum=float(hp.momentum),
            weight_decay=float(hp.weight_decay),
            batch_size=int(hp.batch_size),
            steps=sweep_steps(a, int(hp.batch_size), ctx.train.n),
            augment=a.augment,
            seed=a.seed + 1,
            sampling=a.sampling,
        )
        out.append((key, value, run))
    return out


def phase_noise(ctx: Context, star: dict, Q: torch.Tensor) -> dict:
    """Gradient noise at theta*: projections, traces, and the Gauss rules of tr(f(H) Sigma).

    The first ``--quadrature-probes`` centred minibatch gradients start a Lanczos run each on
    the Hessian of the fixed-subset loss (float32 Hessian-vector products); their Gauss rules
    (:func:`dynlab.traces.gauss_rules`) are saved, so any weight f is applied in the report.
    """
    a = ctx.args
    model = build_model(star["width"], ctx.rt, star["model"])
    flat = FlatParams(model)
    res = minibatch_gradients(
        model,
        flat,
        ctx.train,
        Q,
        batch_size=a.batch_size,
        n_batches=a.noise_batches,
        seed=a.seed,
        stream=STREAM_NOISE,
        augment=a.augment,
        autocast=ctx.rt.autocast,
        n_probes=a.quadrature_probes,
        sampling=a.sampling,
    )
    probes = res.pop("probes")
    batches = fixed_batches(ctx.train, min(a.hessian_samples, ctx.train.n), a.batch_size)
    hvp = hvp_operator(model, flat, batches)

    def matvec(v: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(v, dtype=flat.theta.dtype, device=flat.theta.device)
        return hvp(x).double().cpu().numpy()

    nodes, weights = gauss_rules(matvec, probes.double().cpu().numpy(), a.quadrature_steps)
    ctx.budget.tick(2 * a.noise_batches + a.quadrature_steps * a.quadrature_probes)
    res["rules"] = (torch.as_tensor(nodes), torch.as_tensor(weights))
    res["n_batches"] = a.noise_batches
    return {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in res.items()}


def phase_surface(ctx: Context, star: dict, Q: torch.Tensor, base: dict, proj: list[int]) -> dict:
    """Train and test loss on the (q_1, q_k) plane around theta*, covering the base trajectory."""
    a = ctx.args
    model = build_model(star["width"], ctx.rt, star["model"])
    flat = FlatParams(model)
    rec = base["record"].numpy()
    n = len(RUN_COLUMNS)
    a1, ak = rec[:, n], rec[:, n + len(proj) - 1]
    r1, rk = 1.5 * np.abs(a1).max(), 1.5 * np.abs(ak).max()
    xs, ys = np.linspace(-r1, r1, a.surface_grid), np.linspace(-rk, rk, a.surface_grid)
    dirs = torch.stack([Q[0], Q[-1]])
    n = min(a.hessian_samples, ctx.train.n, ctx.test.n)
    out = {"xs": torch.as_tensor(xs), "ys": torch.as_tensor(ys)}
    center = flat.theta.clone()
    for split, data in (("train", ctx.train), ("test", ctx.test)):
        batches = fixed_batches(data, n, a.batch_size)
        out[split] = torch.as_tensor(
            loss_surface(model, flat, center, dirs, xs, ys, batches, ctx.rt.autocast)
        )
    ctx.budget.tick(2 * a.surface_grid**2)
    return out


def run_phases(ctx: Context, experiments, on_phase=None) -> dict:
    """Run (or load) every phase the experiments need; returns their results by phase name.

    ``on_phase(res)`` is called after every phase (the staged report); wall times of the phases
    run in this invocation go to ``res["timing"]``.
    """
    a = ctx.args
    res = ctx.results
    res["theta_star"] = theta_star(ctx)
    star = res["theta_star"]
    if a.target_acc and star["test_acc"] < a.target_acc:
        raise TargetNotReached(
            f"theta* has test accuracy {star['test_acc']:.4f} < --target-acc {a.target_acc}: the "
            "bridge needs a network at the end of training. The pretrained network is kept: rerun "
            "with --resume and a lower --target-acc (0 disables the check), or pass a better "
            "--checkpoint to a new --out"
        )
    phases = needed_phases(experiments)
    Q_dev, proj = None, []
    for phase in phases:
        done = ctx.state.load(phase)
        if done is None:
            ctx.stop_if_exhausted(phase)
            ctx.log(f"phase {phase}: start")
            t0 = time.monotonic()
            if phase == "hessian":
                done = phase_hessian(ctx, star)
            elif phase == "base":
                done = run_sgd(
                    base_run(ctx),
                    star["model"],
                    star["width"],
                    ctx.train,
                    ctx.rt,
                    ctx.state,
                    ctx.budget,
                    ctx.log,
                    Q=None if Q_dev is None else Q_dev[proj],
                    test=ctx.test,
                    chunk=a.checkpoint_every,
                )
                done["projected"] = proj
            elif phase == "sweeps":
                done = {"runs": []}
                for key, value, run in sweep_runs(ctx):
                    r = run_sgd(
                        run,
                        star["model"],
                        star["width"],
                        ctx.train,
                        ctx.rt,
                        ctx.state,
                        ctx.budget,
                        ctx.log,
                        chunk=a.checkpoint_every,
                    )
                    done["runs"].append(
                        {
                            "key": key,
                            "value": value,
                            "record": r["record"],
                            "run": r["run"],
                            "seconds": r["seconds"],
                        }
                    )
            elif phase == "noise":
                done = phase_noise(ctx, star, Q_dev)
            elif phase == "surface":
                done = phase_surface(ctx, star, Q_dev, res["base"], proj)
            elif phase == "conservation":
                done = phase_conservation(ctx, star)
            elif phase == "energy":
                done = phase_energy(ctx, star)
            ctx.state.save(phase, done)
            res.setdefault("timing", {})[phase] = time.monotonic() - t0
            ctx.log(f"phase {phase}: done")
        res[phase] = done
        if on_phase is not None:
            on_phase(res)
        if phase == "hessian":
            Q_dev = done["Q"].to(ctx.rt.device)
            proj = projected_indices(a.top_k, a.project)
    return res
