"""``python -m validation.resnet_bridge --smoke``: the whole pipeline on the CPU, outputs checked.

The main run goes through ``--profile seed003`` (its epoch-based sweeps and the report
archive) with every experiment selected.

Uses the shared CIFAR-10 pack when it is found beside the repository (``../shared/data/cifar10``),
else a synthetic pack of random images in the same format, so the test always runs.
"""

import io
import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from validation import resnet_bridge as rb  # noqa: E402

pytestmark = pytest.mark.bridge

SECTIONS = (
    "Setup",
    "Diffusion",
    "Instantaneous speed law",
    "Hessian top-k",
    "Phase space",
    "Gradient-noise",
    "Energy drift",
    "Broken conservation laws",
    "Predictions",
)


def _data_root(tmp_path_factory) -> Path:
    for parent in Path(__file__).resolve().parents:
        pack = parent / "shared" / "data" / "cifar10" / "cifar10_jpeg.npz"
        if pack.is_file():
            return pack
    from PIL import Image

    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 256), ("test", 128)):
        blobs = []
        for _ in range(n):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                buf, format="JPEG"
            )
            blobs.append(buf.getvalue())
        arrays[f"{split}_jpeg"] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
        arrays[f"{split}_offsets"] = np.concatenate(
            [[0], np.cumsum([len(b) for b in blobs])]
        ).astype(np.int64)
        arrays[f"{split}_labels"] = (np.arange(n) % 10).astype(np.uint8)
    path = tmp_path_factory.mktemp("pack") / "cifar10_jpeg.npz"
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return _data_root(tmp_path_factory)


def _run(data_root, out, *extra):
    args = rb.get_args_parser().parse_args(
        ["--smoke", "--data-root", str(data_root), "--out", str(out), *extra]
    )
    saved = torch.get_num_threads()
    try:
        return rb.main(args)
    finally:
        torch.set_num_threads(saved)


ALL = ["conservation", "diffusion", "energy", "hessian", "noise", "phase", "speed"]


@pytest.fixture(scope="module")
def smoke(data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    assert _run(data_root, out, "--profile", "seed003", "--experiments", *ALL) == 0
    return out, json.loads((out / "report" / "results.json").read_text())


def _finite(x):
    return all(map(_finite, x)) if isinstance(x, list) else x is not None and math.isfinite(x)


def test_smoke_writes_report_figures_and_log(smoke):
    out, res = smoke
    report = (out / "report" / "report.md").read_text()
    for title in SECTIONS:
        assert f"## {title}" in report
    assert len(res["figures"]) >= 9
    for fig in res["figures"]:
        data = (out / "report" / fig["file"]).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        assert fig["file"] in report
    log = (out / "log.txt").read_text()
    assert "phase energy: done" in log and "done:" in log
    assert (out / "pretrained.pt").is_file()
    # one folder of <= 16 MB files, archived (the GPU profile's deliverable), one run id
    assert all(f.stat().st_size <= 16 << 20 for f in (out / "report").iterdir())
    assert (out / "report.tar.gz").stat().st_size <= 16 << 20
    run_id = json.loads((out / "state" / "config.json").read_text())["run_id"]
    assert res["values"]["run_id"] == run_id and run_id in report
    assert res["values"]["missing"] == [] and "Complete" in report


def test_smoke_numbers_are_present_finite_and_sane(smoke):
    _, res = smoke
    v, head = res["values"], res["values"]["headline"]
    for section in ("diffusion", "speed", "hessian", "phase", "noise", "energy", "conservation"):
        values = [x for x in head[section].values() if not isinstance(x, (bool, str))]
        # None: a ratio refused for a too small effective sample size (every smoke window)
        assert all(x is None or _finite(x) for x in values), section
    assert res["predictions"] and all(
        _finite(p["predicted"]) and _finite(p["measured"]) for p in res["predictions"]
    )
    h = v["hessian"]
    assert h["rho"] == sorted(h["rho"], reverse=True) and h["rho"][0] > 0
    # the explicit residual of the top pair cannot exceed |rho_1| (the start of a Lanczos run
    # already does better)
    assert 0 <= h["residuals"][0] < abs(h["rho"][0])
    d = v["diffusion"]
    assert d["speed"] > 0 and 0 < d["c"] < 4
    runs = v["speed"]["runs"]
    assert all(r["measured"] > 0 and r["predicted_sigma_H"] > 0 for r in runs)
    assert all(r["predicted_quadrature"] > 0 and _finite(r["fdr_ratio"]) for r in runs)
    assert len(runs) == 7 and runs[0]["key"] == "base"
    # sweeps run the same number of epochs (0.75 at smoke size): steps scale as 1 / batch size
    steps = {r["value"]: r["window"][1] for r in runs if r["key"] == "batch_size"}
    assert steps == {8: 24, 16: 12}
    # calibration on the base run's same steps as each sweep
    assert all(r["calibration_window"] == r["window"] for r in runs)
    # the energy table reports the edge-of-stability ratio next to each slope (not for AdamW)
    et = v["energy"]["table"]
    assert et["sgd/consecutive"]["edge_ratio"] is not None
    assert et["adamw/consecutive"]["edge_ratio"] is None
    c = v["conservation"]
    # float32 run: the translation law holds to rounding (1e-7 per step over 12 steps) ...
    assert c["translation_err_exact"] < 1e-5
    # ... and so does the scale law (BN's eps = 1e-5 breaks <theta, g> = 0 at that level)
    assert c["scale_err_exact"] < 1e-3 and c["max_cos_theta_g"] < 1e-2
    e = v["energy"]
    assert e["roundtrip"]["leapfrog"] < e["roundtrip"]["euler"]
    for key, row in e["table"].items():
        if "drift" in row:
            assert np.all(np.asarray(row["drift"]) > 0) and _finite(row["slope"]), key
    n = v["noise"]
    assert n["trSigma"] > 0 and all(q > 0 for q in n["qSq"])
    ph = v["phase"]
    assert 0 <= ph["freq_measured"][0] <= 0.5 and ph["var_ratio_a"] > 0


@pytest.fixture(scope="module")
def reference(data_root, tmp_path_factory):
    """An uninterrupted smoke run of the diffusion experiment (pretraining + base run)."""
    out = tmp_path_factory.mktemp("reference")
    assert _run(data_root, out, "--experiments", "diffusion") == 0
    return out


def _same_results(a, b):
    ra = torch.load(a / "state" / "run_base.pt", weights_only=True)
    rb_ = torch.load(b / "state" / "run_base.pt", weights_only=True)
    assert torch.equal(
        ra["record"], rb_["record"]
    )  # bit for bit: nothing lost, nothing computed differently
    va = json.loads((a / "report" / "results.json").read_text())["values"]["diffusion"]
    vb = json.loads((b / "report" / "results.json").read_text())["values"]["diffusion"]
    assert va == vb


def test_stopped_runs_resume_to_identical_results(data_root, reference, tmp_path):
    out = tmp_path / "parts"
    # stop inside pretraining (8 steps), then inside the base run (60 steps), then finish
    codes = [_run(data_root, out, "--experiments", "diffusion", "--stop-after-steps", "5")]
    codes.append(
        _run(data_root, out, "--experiments", "diffusion", "--resume", "--stop-after-steps", "25")
    )
    codes.append(_run(data_root, out, "--experiments", "diffusion", "--resume"))
    assert codes == [3, 3, 0]
    _same_results(reference, out)
    assert _run(data_root, out, "--experiments", "diffusion") == 2  # needs --resume
    assert _run(data_root, out, "--experiments", "diffusion", "--resume", "--lr", "0.002") == 2


def test_killed_run_resumes_to_identical_results(data_root, reference, tmp_path):
    out = tmp_path / "killed"
    root = Path(__file__).resolve().parents[1]
    cmd = [
        sys.executable,
        "-m",
        "validation.resnet_bridge",
        "--smoke",
        "--data-root",
        str(data_root),
        "--out",
        str(out),
        "--experiments",
        "diffusion",
    ]
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = out / "state" / "run_base_partial.pt"
    while (
        not partial.exists() and proc.poll() is None
    ):  # the base run's first checkpoint (step 25 of 60)
        time.sleep(0.02)
    proc.kill()  # SIGKILL: no handler runs, whatever was being written stays as it was
    assert proc.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert _run(data_root, out, "--experiments", "diffusion", "--resume") == 0
    _same_results(reference, out)
