"""The bridge's options: every bad value refused before any work, profiles, no torch needed.

These run without torch: ``--help``, option validation and the report half must not import it.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from validation import resnet_bridge as rb
from validation.bridge.settings import PROFILES, sweep_settings, sweep_steps

ROOT = Path(__file__).resolve().parents[1]

#: Imports torch refuses in the subprocesses below (a meta-path hook, so that libraries that
#: merely look into sys.modules for torch, as scipy does, are unaffected).
_BLOCK_TORCH = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, _Block())
"""


def _parse(tmp_path, *extra):
    return rb.get_args_parser().parse_args(
        ["--smoke", "--data-root", str(tmp_path / "none"), "--out", str(tmp_path / "out"), *extra]
    )


@pytest.mark.parametrize(
    "extra, name",
    [
        (["--lr", "-0.1"], "lr"),
        (["--lr", "0"], "lr"),
        (["--momentum", "1.0"], "momentum"),
        (["--momentum", "-0.5"], "momentum"),
        (["--weight-decay=-1e-4"], "weight_decay"),
        (["--batch-size", "0"], "batch_size"),
        (["--sweep-lr", "1e-3", "-0.001"], "lr"),
        (["--sweep-momentum", "0.9", "1.0"], "momentum"),
        (["--sweep-batch-size", "0"], "batch_size"),
        (["--steps", "0"], "--steps"),
        (["--sweep-steps", "-3"], "--sweep-steps"),
        (["--sweep-epochs", "0"], "--sweep-epochs"),
        (["--top-k", "0"], "--top-k"),
        (["--project", "1", "9"], "--project"),
        (["--noise-batches", "1"], "--noise-batches"),
        (["--quadrature-probes", "1"], "--quadrature-probes"),
        (["--quadrature-steps", "0"], "--quadrature-steps"),
        (["--energy-points", "0"], "--energy-points"),
        (["--target-acc", "1.5"], "--target-acc"),
        (["--conservation-momentum", "1.0"], "--conservation-momentum"),
        (["--damping", "-1"], "--damping"),
        (["--time-limit", "0"], "--time-limit"),
    ],
)
def test_bad_options_are_refused_before_any_work(tmp_path, capsys, extra, name):
    # refused either by argparse's option types (SystemExit 2) or by main's validation (2)
    try:
        status = rb.main(_parse(tmp_path, *extra))
    except SystemExit as exc:
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert (name in err or name.replace("_", "-") in err) and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing written, nothing locked


def test_help_and_validation_work_without_torch(tmp_path):
    code = (
        _BLOCK_TORCH
        + "import validation.resnet_bridge as rb\n"
        + "import validation.bridge.experiments, validation.bridge.analysis\n"
        + "assert 'torch' not in sys.modules\n"
        + "args = rb.get_args_parser().parse_args(['--smoke', '--data-root', 'x', '--out', "
        + f"{str(tmp_path / 'o')!r}, '--momentum', '1.0'])\n"
        + "sys.exit(rb.main(args))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and "momentum" in r.stderr, r.stderr
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            _BLOCK_TORCH + "import runpy; sys.argv = ['x', '--help'];"
            "runpy.run_module('validation.resnet_bridge', run_name='__main__')",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and "--profile" in r.stdout, r.stderr
    # and the hook does block torch (the test can fail)
    r = subprocess.run([sys.executable, "-c", _BLOCK_TORCH + "import torch"], capture_output=True)
    assert r.returncode != 0


def test_profile_seed003_sets_the_protocol_and_the_command_line_wins(tmp_path):
    a = rb.finalize(
        rb.get_args_parser().parse_args(
            [
                "--profile",
                "seed003",
                "--data-root",
                "x",
                "--out",
                "y",
                "--top-k",
                "7",
                "--project",
                "1",
                "7",
            ]
        )
    )
    p = PROFILES["seed003"]
    assert (a.lr, a.momentum, a.weight_decay, a.batch_size) == (1e-3, 0.9, 5e-4, 256)
    assert a.sweep_lr == p["sweep_lr"] and a.sweep_batch_size == [64, 256, 1024]
    assert a.sweep_momentum == [0.8, 0.9, 0.99] and a.top_k == 7
    # sweeps over the same number of epochs: steps scale as 1 / batch size
    steps = {hp.batch_size: sweep_steps(a, hp.batch_size, 50_000) for _, _, hp in sweep_settings(a)}
    assert steps[64] == 1562 and steps[256] == 391 and steps[1024] == 98
    assert a.steps == 390  # the base run: 2 epochs at batch 256


def test_plan_counts_the_work_of_each_phase(capsys):
    """The docs' work table, from the settings by independent arithmetic (no torch)."""
    args = rb.get_args_parser().parse_args(
        ["--profile", "seed003", "--data-root", "x", "--out", "y", "--plan", "1000", "3"]
    )
    assert rb.main(args) == 0
    out = capsys.readouterr().out
    from validation.bridge.plan import work_plan

    plan = work_plan(args, 50_000, 10_000, 3.0)
    assert plan["pretrain"] == 40 * (50_000 // 256) * 256 + 40 * 10_000 / 3
    assert plan["hessian"] == (80 + 20) * 1024 * 3  # Lanczos max(4k, k + 40) steps + k residuals
    assert plan["base"] == 390 * 256 + 10_000 / 3
    # lr and momentum sweeps: 6 runs at batch 256; batch sweep: 64, 256, 1024 for 2 epochs each
    assert plan["sweeps"] == 7 * 391 * 256 + 1562 * 64 + 98 * 1024
    assert plan["noise"] == 2 * 100 * 256 + 8 * 16 * 1024 * 3
    assert plan["surface"] == 2 * 81 * 1024 / 3
    total = sum(plan.values())
    assert f"{total:,.0f}" in out and f"{total / 1000:.1f}" in out
    assert not (Path("y") / "state").exists()


def test_edge_of_stability_ratio_next_to_each_energy_slope():
    """lr rho_1 / (2 (1 + beta)): 1 exactly where heavy ball's noiseless iteration on rho_1
    becomes unstable (checked by iterating it), for SGD-momentum and damped leapfrog."""
    import numpy as np

    from validation.bridge.sections_seeds import edge_ratio

    a = rb.finalize(rb.get_args_parser().parse_args(["--smoke", "--data-root", "x", "--out", "y"]))
    rho = 40.0
    lr_edge = 2 * (1 + a.momentum) / rho
    r = edge_ratio("sgd", [0.5 * lr_edge, lr_edge], a, rho)
    np.testing.assert_allclose(r, [0.5, 1.0], rtol=1e-15)

    def grows(lr, beta):  # theta' = theta + lr v', v' = beta v - rho theta, 400 steps from rest
        theta, v = 1.0, 0.0
        for _ in range(400):
            v = beta * v - rho * theta
            theta += lr * v
        return abs(theta) > 1.0

    assert not grows(0.99 * lr_edge, a.momentum) and grows(1.01 * lr_edge, a.momentum)
    dt = np.array([0.01, 0.2])
    r = edge_ratio("leapfrog", dt, a, rho)
    np.testing.assert_allclose(r, dt**2 * rho / (2 * (1 + np.exp(-a.damping * dt))), rtol=1e-14)
    assert edge_ratio("adamw", dt, a, rho) is None and edge_ratio("sgd", dt, a, None) is None
