"""The work of a run, phase by phase, in image passes; a wall-time estimate from measured rates.

One unit is one image through a training step (forward and backward). A Hessian-vector product
costs ``hvp_factor`` units per image (double backward), an evaluation ``EVAL_FACTOR`` (forward
only). ``python -m validation.resnet_bridge --plan RATE ...`` prints this table for the given
settings and a training rate in images per second (``benchmarks/bridge.py`` measures it and
the Hessian-vector product factor on a device). No torch import.
"""

from __future__ import annotations

from .settings import energy_grids, needed_phases, sweep_settings, sweep_steps

__all__ = ["EVAL_FACTOR", "work_plan", "format_plan"]

#: A forward pass costs about a third of a training step (backward ~ 2 forwards).
EVAL_FACTOR = 1.0 / 3.0


def _lanczos_products(a) -> int:
    """Hessian-vector products of the top-k phase at most (Lanczos steps plus k residuals)."""
    iters = a.lanczos_iters if a.lanczos_iters is not None else max(4 * a.top_k, a.top_k + 40)
    return iters + a.top_k


def work_plan(a, n_train: int, n_test: int, hvp_factor: float) -> dict[str, float]:
    """Image passes of every phase the settings run (an upper bound: Lanczos may stop early).

    Parameters
    ----------
    a : argparse.Namespace
        Finalized settings.
    n_train, n_test : int
        Sizes of the data set used.
    hvp_factor : float
        Cost of a Hessian-vector product per image, in training-step units.
    """
    hs = min(a.hessian_samples, n_train)
    ev = EVAL_FACTOR * n_test
    plan = {}
    if a.checkpoint is None:
        steps = a.pretrain_epochs * (n_train // a.pretrain_batch_size)
        plan["pretrain"] = steps * a.pretrain_batch_size + a.pretrain_epochs * ev
    for phase in needed_phases(a.experiments):
        if phase == "hessian":
            plan[phase] = _lanczos_products(a) * hs * hvp_factor
        elif phase == "base":
            plan[phase] = a.steps * a.batch_size + ev
        elif phase == "sweeps":
            plan[phase] = sum(
                sweep_steps(a, int(hp.batch_size), n_train) * int(hp.batch_size)
                for _, _, hp in sweep_settings(a)
            )
        elif phase == "noise":
            grads = 2 * a.noise_batches * a.batch_size
            plan[phase] = grads + a.quadrature_probes * a.quadrature_steps * hs * hvp_factor
        elif phase == "surface":
            plan[phase] = 2 * a.surface_grid**2 * min(hs, n_test) * EVAL_FACTOR
        elif phase == "conservation":
            plan[phase] = a.conservation_steps * a.batch_size
        elif phase == "energy":
            runs = len(energy_grids(a)) * a.energy_points * a.energy_seeds
            # a step evaluates the gradient at the new point and the loss of the old batch there
            step = a.energy_batch_size * (1.0 + EVAL_FACTOR)
            plan[phase] = runs * a.energy_steps * step + 4 * a.reversibility_steps * step
    return plan


def format_plan(plan: dict[str, float], images_per_s: float, overhead_s: float = 0.0) -> str:
    """The plan as lines ``phase: image passes, seconds`` at ``images_per_s``, with the total."""
    lines = [f"{'phase':<14}{'image passes':>16}{'seconds':>12}"]
    for phase, work in plan.items():
        lines.append(f"{phase:<14}{work:>16,.0f}{work / images_per_s:>12.1f}")
    total = sum(plan.values()) / images_per_s + overhead_s
    lines.append(f"{'start-up/data':<14}{'':>16}{overhead_s:>12.1f}")
    lines.append(f"{'total':<14}{sum(plan.values()):>16,.0f}{total:>12.1f}")
    return "\n".join(lines)
