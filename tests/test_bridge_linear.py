"""``python -m validation.resnet_bridge --model linear``: the whole bridge against exact answers.

The torch pipeline (pretraining, Hessian-vector-product Lanczos, noise probes and their Gauss
quadrature, base run, lr / batch-size / momentum sweeps, the report) runs on linear regression
with the loss ``||X_B theta - y_B||^2 / 2S``, where dynlab knows every answer exactly:

* the top Hessian eigenvalues are those of ``X^T X / N`` (numpy's ``eigvalsh``), to float32
  rounding;
* the mean ``||theta_{k+1} - theta_k||^2`` (speed) and ``||theta_k - theta*||^2``
  (displacement, theta* the pretrained start) over the second half of every run are the window
  averages of dynlab's exact moments, ``MinibatchSGD(FiniteData(X, y, weight_decay),
  HeavyBall(...), "without_replacement").moments`` from the very start the run had (its exact
  transient included, state-dependent noise included);
* the noise-probe quadrature of the report estimates ``tr(f_v(H) Sigma)`` with Sigma the exact
  covariance of the optimizer's batches at theta*;
* Yaida's relation holds on every stationary window.

Which exact model: the linear preset draws every batch as a fresh subset of S distinct samples
(``--sampling independent``), which is exactly ``MinibatchSGD``'s ``"without_replacement"``
sampling at any N. The ResNet's default, one permutation per epoch, correlates the batches of an
epoch (their noise sums to zero over the epoch); its exact model
(``dynlab.minibatch.Reshuffle``) enumerates subsets (2^N) and gives stationary epoch maps only,
not the transient from the pretrained start that the displacement needs. Independent batches
make every measured number here comparable with an exact one; the batch stream's reshuffling is
tested on its own (``tests/test_resnet_bridge.py``).

Tolerances: Monte Carlo rows pass at |z| <= ``Z_GATE`` = 4 with the report's own standard errors
(integrated autocorrelation time; every window has an effective sample size >= ``MIN_ESS``),
fixed seeds. The diffusion exponent is not compared: at stationarity ``||Delta_k||^2`` plateaus,
the exponent fitted to one trajectory measures its plateau's fluctuations, and its least-squares
error ignores their autocorrelation, so no honest z exists; its input, the displacement, is
compared instead.
"""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dynlab.hyper import HeavyBall  # noqa: E402
from dynlab.minibatch import FiniteData, MinibatchSGD, batch_factor  # noqa: E402
from dynlab.traces import speed_weight  # noqa: E402
from validation import resnet_bridge as rb  # noqa: E402
from validation.bridge import analysis as an  # noqa: E402
from validation.bridge.checkpoint import load  # noqa: E402
from validation.bridge.config import MIN_ESS, Z_GATE  # noqa: E402
from validation.bridge.data import STREAMS_VERSION  # noqa: E402
from validation.bridge.linear import regression_data  # noqa: E402
from validation.bridge.records import RunRecord  # noqa: E402
from validation.bridge.run import data_fingerprint  # noqa: E402

pytestmark = pytest.mark.bridge

#: float32 unit roundoff: the Hessian-vector products run in float32.
U32 = 2.0**-24


@pytest.fixture(scope="module")
def linear_run(tmp_path_factory):
    """The linear preset end to end (CPU, one thread); its config, results and data."""
    out = tmp_path_factory.mktemp("linear")
    args = rb.get_args_parser().parse_args(["--model", "linear", "--out", str(out)])
    saved = torch.get_num_threads()
    try:
        assert rb.main(args) == 0
    finally:
        torch.set_num_threads(saved)
    cfg = json.loads((out / "state" / "config.json").read_text())
    res = json.loads((out / "report" / "results.json").read_text())["values"]
    data = regression_data(cfg["n_train"], cfg["n_test"], cfg["width"], cfg["seed"])
    assert data_fingerprint(data) == cfg["data_sha256"]  # the very data the run used
    assert cfg["streams_version"] == STREAMS_VERSION  # --resume refuses batches drawn otherwise
    theta0 = load(out / "state" / "pretrained.pt")["model"]["fc.weight"].double().numpy().ravel()
    runs = [(None, load(out / "state" / "base.pt")["record"])]
    runs += [(r["run"], r["record"]) for r in load(out / "state" / "sweeps.pt")["runs"]]
    return cfg, res, data, theta0, runs


def _hyper(cfg, run) -> HeavyBall:
    src = cfg if run is None else run
    return HeavyBall(
        lr=src["lr"],
        momentum=src["momentum"],
        weight_decay=cfg["weight_decay"],
        batch_size=src["batch_size"],
    )


def _exact_curves(data, hp, theta0, steps):
    """Exact E||theta_{k+1} - theta_k||^2 and E||theta_{k+1} - theta0||^2, k = 0..steps-1."""
    sgd = MinibatchSGD(
        FiniteData(data.train_x, data.train_y, hp.weight_decay), hp, sampling="without_replacement"
    )
    d = len(theta0)
    mean, P = sgd.moments(steps=np.arange(1, steps + 1), theta0=theta0)
    speed = hp.lr**2 * np.einsum("kii->k", P[:, d:, d:])
    delta0 = theta0 - sgd.data.theta_star  # Delta = (theta - theta*) - delta0
    disp = np.einsum("kii->k", P[:, :d, :d]) - 2.0 * mean[:, :d] @ delta0 + delta0 @ delta0
    return speed, disp


def test_hessian_eigenvalues_equal_eigvalsh_to_float32_rounding(linear_run):
    """Lanczos runs d steps (the whole space), so each Ritz value is an eigenvalue of the float32
    operator up to its explicit residual; that operator differs from X^T X / N by at most
    (N + d) u ||X|^T |X|||_2 / N (the rounding bound of its dot products, u = 2^-24), so the
    gap to numpy's eigvalsh is bounded by residual + that."""
    cfg, res, data, _, _ = linear_run
    h = res["hessian"]
    rho, resid = np.array(h["rho"]), np.array(h["residuals"])
    X = data.train_x[: h["samples"]]
    N, d = X.shape
    ref = np.linalg.eigvalsh(X.T @ X / N)[::-1][: len(rho)]
    bound = resid + (N + d) * U32 * np.linalg.norm(np.abs(X).T @ np.abs(X), 2) / N
    assert np.all(np.abs(rho - ref) <= bound), (rho - ref, bound)


def test_speed_and_displacement_of_every_run_match_the_exact_moments(linear_run):
    cfg, res, data, theta0, runs = linear_run
    rows = res["speed"]["runs"]
    assert (
        len(rows)
        == len(runs)
        == 1 + sum(len(cfg[f"sweep_{k}"]) for k in ("lr", "batch_size", "momentum"))
    )
    for row, (run, record) in zip(rows, runs):
        hp = _hyper(cfg, run)
        rec = RunRecord.from_array(record.numpy())
        lo, hi = row["window"]
        speed, disp = _exact_curves(data, hp, theta0, rec.steps)
        # the speed as the report measured it (second half, autocorrelation-time error)
        assert row["ess"] >= MIN_ESS, row
        z = (row["measured"] - speed[lo:hi].mean()) / row["stderr"]
        assert abs(z) <= Z_GATE, (row["key"], row["value"], z)
        # the displacement from theta*, with the report's estimator, on the same window
        m = an.windowed_mean(rec.Delta2, lo, hi)
        assert an.verdict(m), (row["key"], m.ess)
        z = (m.mean - disp[lo:hi].mean()) / m.se
        assert abs(z) <= Z_GATE, (row["key"], row["value"], z)
        # Yaida's relation on the same window (exact at stationarity for any noise)
        assert row["fdr_ess"] >= MIN_ESS and abs(row["fdr_z"]) <= Z_GATE, row


def test_noise_phase_estimates_the_exact_covariance_and_trace(linear_run):
    """The noise phase's q_i^T Sigma q_i and tr Sigma, and the report's measured-Sigma
    prediction of the base run, tr(f_v(H) Sigma), against Sigma = S Cov(g_B) of the optimizer's
    batches at theta*, computed here from all N per-sample gradients (c_S: dynlab's
    finite-population factor)."""
    cfg, res, data, theta0, _ = linear_run
    hp = _hyper(cfg, None)
    X, y = data.train_x, data.train_y
    N, S = len(y), hp.batch_size
    G = X * (X @ theta0 - y)[:, None]
    G -= G.mean(0)
    Sigma = S * batch_factor(N, S, "without_replacement") * (G.T @ G) / N
    rho, q = np.linalg.eigh(X.T @ X / N)
    qSq = np.einsum("ji,jk,ki->i", q, Sigma, q)
    noise = res["noise"]
    k = len(noise["qSq"])
    z = (np.array(noise["qSq"]) - qSq[::-1][:k]) / np.array(noise["qSq_se"])
    assert np.all(np.abs(z) <= Z_GATE), z
    z = (noise["trSigma"] - np.trace(Sigma)) / noise["trSigma_se"]
    assert abs(z) <= Z_GATE, (noise["trSigma"], np.trace(Sigma), z)
    exact = float(np.sum(speed_weight(rho, hp) * qSq))
    base = res["speed"]["runs"][0]
    z = (base["predicted_quadrature"] - exact) / base["predicted_quadrature_stderr"]
    assert abs(z) <= Z_GATE, (base["predicted_quadrature"], exact, z)


def test_independent_sampling_draws_a_fresh_subset_of_distinct_samples_every_step():
    """Against the definition: S distinct indices per step, a pure function of (seed, stream,
    step), and over many steps every sample equally often (each with probability S / N)."""
    from validation.bridge.data import BatchStream
    from validation.bridge.linear import FeatureData

    N, S, steps = 12, 3, 4000
    data = FeatureData(np.zeros((N, 2)), np.zeros(N), "cpu")
    stream = BatchStream(data, S, seed=3, stream=1, augment=False, sampling="independent")
    idx = np.array([stream.indices(k).numpy() for k in range(steps)])
    assert all(len(set(row)) == S for row in idx)
    again = BatchStream(data, S, seed=3, stream=1, augment=False, sampling="independent")
    assert np.array_equal(again.indices(17).numpy(), idx[17])
    # consecutive batches overlap (under reshuffling the batches of an epoch are disjoint)
    assert any(set(idx[k]) & set(idx[k + 1]) for k in range(steps - 1))
    counts = np.bincount(idx.ravel(), minlength=N)
    p = S / N  # per-step inclusion probability; steps are independent
    z = (counts - steps * p) / np.sqrt(steps * p * (1 - p))
    assert np.all(np.abs(z) <= Z_GATE), z


def test_linear_mode_refuses_resnet_only_experiments_and_the_resnet_needs_data(tmp_path):
    args = rb.get_args_parser().parse_args(
        ["--model", "linear", "--experiments", "energy", "--out", str(tmp_path / "a")]
    )
    assert rb.main(args) == 2
    args = rb.get_args_parser().parse_args(["--smoke", "--out", str(tmp_path / "b")])
    assert rb.main(args) == 2
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
