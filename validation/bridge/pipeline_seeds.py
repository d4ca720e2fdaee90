"""The phases of the seed papers' checks in the ResNet bridge: conservation laws (seed 001)
and energy drift with reversibility round trips (seed 000). Each is run by
:func:`.pipeline.run_phases`.
"""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np
import torch

from .conservation import conservation_run
from .context import Context
from .energy import EnergyRun, energy_run, round_trip
from .model import ResNet18
from .settings import energy_grids
from .train import (
    STREAM_CONSERVATION,
    STREAM_ENERGY,
    build_model,
)

__all__ = ["phase_conservation", "phase_energy"]


def phase_conservation(ctx: Context, star: dict) -> dict:
    a = ctx.args
    model = build_model(star["width"], ctx.rt, star["model"])
    model.train()
    res = conservation_run(
        model,
        ctx.train,
        lr=a.conservation_lr,
        momentum=a.conservation_momentum,
        weight_decay=a.conservation_weight_decay,
        batch_size=a.batch_size,
        steps=a.conservation_steps,
        seed=a.seed,
        stream=STREAM_CONSERVATION,
        augment=a.augment,
    )
    ctx.budget.tick(a.conservation_steps)
    return {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in res.items()}


def _energy_model(ctx: Context, star: dict, seed: int) -> ResNet18:
    a = ctx.args
    if a.energy_init == "pretrained":
        model = build_model(star["width"], ctx.rt, star["model"])
    else:
        torch.manual_seed(seed)
        model = build_model(star["width"], ctx.rt)
    return model.train()


def phase_energy(ctx: Context, star: dict) -> dict:
    """Every (grid, step size, seed) run, each saved when done; then the reversibility round
    trips."""
    a = ctx.args
    out = {}
    for grid, (method, steps) in energy_grids(a).items():
        for i, h in enumerate(steps):
            for seed in range(a.energy_seeds):
                name = f"energy_{grid}_{i}_{seed}"
                res = ctx.state.load(name)
                if res is None:
                    ctx.stop_if_exhausted(name)
                    run = EnergyRun(
                        method,
                        float(h),
                        seed=a.seed + seed,
                        steps=a.energy_steps,
                        batch_size=a.energy_batch_size,
                        damping=a.damping,
                        cap=a.cap,
                        momentum=a.momentum if method == "sgd" else 0.0,
                        weight_decay=a.adamw_weight_decay
                        if method == "adamw"
                        else (a.weight_decay if method == "sgd" else 0.0),
                    )
                    t0 = time.monotonic()
                    r = energy_run(
                        run,
                        _energy_model(ctx, star, a.seed + seed),
                        ctx.train,
                        augment=True,
                        stream=STREAM_ENERGY,
                    )
                    res = {
                        k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v
                        for k, v in r.items()
                    }
                    res.update(run=asdict(run), seconds=time.monotonic() - t0)
                    ctx.state.save(name, res)
                    ctx.budget.tick(a.energy_steps)
                out[name] = res
    dt_mid = float(np.sqrt(np.prod(a.leapfrog_band)))
    for method in ("leapfrog", "euler"):
        name = f"roundtrip_{method}"
        res = ctx.state.load(name)
        if res is None:
            ctx.stop_if_exhausted(name)
            err = round_trip(
                method,
                dt_mid,
                a.reversibility_steps,
                _energy_model(ctx, star, a.seed),
                ctx.train,
                seed=a.seed,
                stream=STREAM_ENERGY,
                batch_size=a.energy_batch_size,
                augment=True,
            )
            res = {"error": err, "dt": dt_mid, "steps": a.reversibility_steps}
            ctx.state.save(name, res)
            ctx.budget.tick(2 * a.reversibility_steps)
        out[name] = res
    return out
