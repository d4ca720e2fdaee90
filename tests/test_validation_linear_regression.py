"""The main job ``python -m validation.linear_regression``: its report's numbers, and its helpers
against independent references (scipy's Lyapunov solvers, the general A = (D + Q) U route,
plain numpy statistics, hand-made CIFAR-10 files)."""

import io
import json
import pickle

import numpy as np
import pytest
import scipy.linalg

from dynlab import config
from dynlab.models import synthetic_regression
from dynlab.sgd import SGDPhaseSpace
from validation.linreg.cifar import CLASSES, find_layout, load_cifar10_train
from validation.linreg.estimate import jackknife, path_average, ratio_of_averages
from validation.linreg.predict import (
    SDE_SIGN,
    fitted_exponent,
    fitted_exponents,
    mode_ou,
    plane_cov,
    stationary_predictions,
)

EPS = config.EPS


# ---------------------------------------------------------------------------- the --quick run


def _label(key):
    from validation.linreg.writeup import LABELS

    return LABELS[key]


@pytest.mark.montecarlo
def test_quick_run_report(tmp_path):
    # one test for the whole --quick run, so that pytest-xdist runs the job once
    from validation.linear_regression import main

    status = main(["--quick", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    # 0. one run's files only, and every table row of the report keeps its header's columns
    from markdown_tables import bad_rows

    from validation.report import verify_run

    assert verify_run(tmp_path) == results["run_id"]
    assert bad_rows((tmp_path / "report.md").read_text()) == []
    # every redrawable figure redraws from the saved arrays, curve for curve
    from validation.linreg import figures

    for name in figures.DRAW:
        again = figures.plot(tmp_path / "results.json", name)
        assert sum(len(ax.get_lines()) for ax in again.axes) > 0

    # 1. every exact prediction within 4 standard errors (the acceptance criterion)
    rows = [p for p in results["predictions"] if p["exact"]]
    z = np.array([p["z"] for p in rows])
    assert len(rows) >= 60
    # Monte Carlo: each z is N(0, 1) for an exact prediction (fixed seeds); with ~70 rows the
    # chance that a correct implementation puts one beyond 4 is 70 * 6.3e-5 < 0.5%
    assert np.all(np.abs(z) <= 4.0), [(p["name"], p["z"]) for p in rows if abs(p["z"]) > 4]
    # and the standard errors are neither inflated nor too small: the z's spread like N(0, 1).
    # The rows are positively correlated (lags and steps of one trajectory), which widens the
    # spread of their rms; over seeds 1-20 of this run it stayed in [0.75, 1.30] (mean 0.99)
    assert 0.5 <= np.sqrt(np.mean(z**2)) <= 1.6
    assert status == 0
    assert results["values"]["summary"]["max_abs_z"] == pytest.approx(np.max(np.abs(z)))

    # 2. SDE-vs-exact gaps: one per stationary quantity and momentum, with the sign the
    # per-mode closed forms fix (validation/linreg/predict.py)
    gaps = results["values"]["sde_gap"]
    for beta in (0.9, 0.99):
        for key, sign in SDE_SIGN.items():
            entries = [
                e
                for name, e in gaps.items()
                if f"momentum {beta:g}]" in name and name.startswith(_label(key))
            ]
            assert len(entries) == 1, (key, beta)
            e = entries[0]
            assert e["theory_sign"] == sign
            assert e["sign_as_theory"] is True
            assert np.sign(e["sde"] - e["exact"]) == sign
            assert e["rel_gap"] is not None and abs(e["rel_gap"]) > 10 * EPS
    # the SDE misses the exact recursion's position-velocity correlation entirely, and the
    # Gaussian simulation resolves that (its z against the SDE value is large)
    cov = [e for name, e in gaps.items() if name.startswith(_label("cov_theta_v_1"))]
    assert len(cov) == 2 and all(
        e["sde"] == 0.0 and abs(e["z_sde_vs_gaussian_sim"]) > 10 for e in cov
    )

    # 3. the minibatch simulation's gaps are measured (not gated) for the same quantities
    mb = results["values"]["minibatch_gap"]
    assert mb.keys() == gaps.keys()
    assert all(np.isfinite(e["measured"]) and e["stderr"] > 0 for e in mb.values())
    approx = [p for p in results["predictions"] if not p["exact"]]
    assert approx and all("minibatch" in p["name"] for p in approx)

    # 4. figures written, linked from the report, and not blank
    names = {f["file"] for f in results["figures"]}
    assert names == {
        "mean_trajectory.png",
        "phase_portraits.png",
        "displacement.png",
        "isotropy.png",
        "velocity.png",
        "sweeps.png",
        "minibatch_slow_variance.png",
    }
    report = (tmp_path / "report.md").read_text()
    assert "## Summary" in report and "exact predictions within |z| <= 4" in report
    from PIL import Image

    for name in names:
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
        pixels = np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.float64)
        assert pixels.shape[0] > 300 and np.mean(pixels < 128) > 0.005  # drawn on, not blank
        assert f"]({name})" in report


# ---------------------------------------------------------------------------- predictions


@pytest.fixture(scope="module")
def model():
    prob = synthetic_regression(2048, 6, noise_std=0.3, seed=4)
    mu = np.linalg.solve(prob.H, prob.b)
    Sigma = prob.gradient_noise_cov(mu)  # does not commute with H
    return SGDPhaseSpace(prob.H, prob.b, lr=0.4, momentum=0.8, batch_size=8, noise_cov=Sigma)


def _E(sgd, i):
    d = sgd.d
    E = np.zeros((2 * d, 2))
    E[:d, 0] = sgd.q[:, i]
    E[d:, 1] = sgd.q[:, i]
    return E


@pytest.mark.parametrize("i", [0, 3, 5])
def test_mode_ou_is_the_sde_projected_on_the_mode_plane(model, i):
    sgd = model
    assert not sgd.commutes
    E = _E(sgd, i)
    ou = mode_ou(sgd, i)
    A, D = sgd.ou.A, sgd.ou.D
    # A maps the mode's plane to itself: the projection of A is the 2 x 2 drift (rounding of the
    # eigenvector products, condition of the eigenbasis ~ 1)
    np.testing.assert_allclose(ou.A, E.T @ A @ E, atol=100 * EPS * np.abs(A).max())
    np.testing.assert_allclose(ou.D, E.T @ D @ E, atol=100 * EPS * np.abs(D).max())
    # marginal stationary law on the plane: scipy's Lyapunov solution of the FULL system, projected
    B = scipy.linalg.solve_continuous_lyapunov(A, 2 * D)
    lyap_cond = np.linalg.cond(np.kron(np.eye(2 * sgd.d), A) + np.kron(A, np.eye(2 * sgd.d)))
    tol = 100 * EPS * lyap_cond * np.abs(B).max() / sgd.kappa
    np.testing.assert_allclose(ou.stationary_cov(), E.T @ B @ E / sgd.kappa, atol=tol)
    np.testing.assert_allclose(
        plane_cov(sgd, i, i, exact=False, plane="phase"), E.T @ B @ E / sgd.kappa, atol=tol
    )
    # marginal current: J_y(y) = -E^T Q E (E^T B E)^-1 (y - mu_y) p_y(y), with Q from the general
    # route A = (D + Q) U of the full process (derivation in predict.mode_ou)
    Q = A @ B - D
    Qy, By = E.T @ Q @ E, E.T @ B @ E
    rng = np.random.default_rng(0)
    y = ou.mu + rng.standard_normal((7, 2)) * np.sqrt(np.diag(By / sgd.kappa))
    Cy = By / sgd.kappa
    dy = y - ou.mu
    p = np.exp(-0.5 * np.einsum("ni,ij,nj->n", dy, np.linalg.inv(Cy), dy)) / (
        2 * np.pi * np.sqrt(np.linalg.det(Cy))
    )
    ref = -(dy @ (Qy @ np.linalg.inv(By)).T) * p[:, None]
    np.testing.assert_allclose(
        ou.current(y), ref, rtol=1e-6 * lyap_cond, atol=1e-12 * np.abs(ref).max()
    )


def test_plane_covariances_match_the_stein_solution(model):
    sgd = model
    d = sgd.d
    F, G, N = sgd.discrete.F, sgd.discrete.G, sgd.discrete.noise_cov
    P = scipy.linalg.solve_discrete_lyapunov(F, G @ N @ G.T)
    stein_cond = np.linalg.cond(np.eye(4 * d * d) - np.kron(F, F))
    tol = 100 * EPS * stein_cond * np.abs(P).max()
    i, j = 0, d - 1
    Qt = sgd.q[:, [i, j]]
    np.testing.assert_allclose(
        plane_cov(sgd, i, j, exact=True, plane="theta"), Qt.T @ P[:d, :d] @ Qt, atol=tol
    )
    np.testing.assert_allclose(
        plane_cov(sgd, i, j, exact=True, plane="v"), Qt.T @ P[d:, d:] @ Qt, atol=tol
    )
    np.testing.assert_allclose(
        plane_cov(sgd, i, j, exact=True, plane="phase"), _E(sgd, i).T @ P @ _E(sgd, i), atol=tol
    )
    pred = stationary_predictions(sgd, j)
    # speed and potential through the Stein solution (lr^2 tr P_vv, 1/2 tr(H P_thth))
    assert pred["speed"].exact == pytest.approx(
        sgd.lr**2 * np.trace(P[d:, d:]), rel=100 * EPS * stein_cond
    )
    assert pred["potential"].exact == pytest.approx(
        0.5 * np.trace(sgd.H @ P[:d, :d]), rel=100 * EPS * stein_cond
    )
    for key, sign in SDE_SIGN.items():
        assert np.sign(pred[key].sde - pred[key].exact) == sign, key


# ---------------------------------------------------------------------------- estimators


def test_estimators_against_plain_numpy():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 400)) + 3.0  # 50 rows (steps) x 400 paths
    per_path = x.mean(axis=0)
    e = path_average(x)
    assert e.value == pytest.approx(per_path.mean(), rel=10 * EPS)
    assert e.stderr == pytest.approx(per_path.std(ddof=1) / 20.0, rel=10 * EPS)
    # delete-one jackknife of a mean (one path per group) equals the classical standard error
    j = jackknife(x, lambda c: c.mean())
    assert j.value == pytest.approx(per_path.mean(), rel=10 * EPS)
    assert j.stderr == pytest.approx(e.stderr, rel=1e-9)


def test_exponent_jackknife_in_one_fit_equals_the_fits_one_by_one():
    # the main job's exponent standard errors: one polyfit over all leave-one-out curves against
    # fit_power_law per curve; both are least-squares lines, equal to rounding: slopes to 1e-12
    # (condition number O(1) in log-log coordinates, 1e3 x eps margin); the standard error is
    # built from differences of slopes only ~ se / sqrt(G) ~ 1e-4 apart, which amplifies that
    # rounding ~1e4-fold: 1e-9
    rng = np.random.default_rng(3)
    steps = np.arange(1, 91)
    x = steps[:, None] ** 1.4 * np.exp(0.3 * rng.standard_normal((90, 120)))
    loop = jackknife(x, lambda c: fitted_exponent(steps, c))
    batch = jackknife(x, lambda c: fitted_exponents(steps, c), columns=True)
    assert batch.value == pytest.approx(loop.value, rel=1e-12)
    assert batch.stderr == pytest.approx(loop.stderr, rel=1e-9)
    np.testing.assert_allclose(
        fitted_exponents(steps, x[:, :5]),
        [fitted_exponent(steps, c) for c in x[:, :5].T],
        rtol=1e-12,
    )


@pytest.mark.montecarlo
def test_ratio_standard_error_matches_replications():
    # Monte Carlo: 2000 replications of a ratio of correlated means over 300 paths; the
    # delta-method s.e. must match the replications' spread (its own relative error is about
    # 1 / sqrt(2 * 2000) = 1.6%; 15% leaves room for the O(1/M) nonlinearity)
    rng = np.random.default_rng(2)
    reps, M = 2000, 300
    a = rng.gamma(2.0, 1.0, (reps, 2, M))
    num, den = a[:, 0] + 0.5 * a[:, 1], a[:, 1] + 1.0
    r = num.mean(1) / den.mean(1)
    se = np.array([ratio_of_averages(n, d).stderr for n, d in zip(num[:50], den[:50])])
    assert se.mean() == pytest.approx(r.std(ddof=1), rel=0.15)


# ---------------------------------------------------------------------------- CIFAR-10 layouts


def _fake_cifar(n_per_class=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), n_per_class)
    images = rng.integers(0, 256, (labels.size, 32, 32, 3), dtype=np.uint8)
    images[0] = [255, 0, 128]  # a constant colour: R plane 1, G plane 0, B plane 128/255
    return images, labels


def test_cifar_layouts_agree(tmp_path):
    from PIL import Image

    images, labels = _fake_cifar()
    flat = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    # python release: data_batch_1..5 (all images in batch 1, the others empty)
    root = tmp_path / "batches" / "cifar-10-batches-py"
    root.mkdir(parents=True)
    for k in range(1, 6):
        sl = slice(None) if k == 1 else slice(0, 0)
        with open(root / f"data_batch_{k}", "wb") as f:
            pickle.dump({b"data": flat[sl], b"labels": labels[sl].tolist()}, f)
    # ImageFolder tree of lossless PNGs
    for i, (img, y) in enumerate(zip(images, labels)):
        d = tmp_path / "folder" / "train" / CLASSES[y]
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(d / f"{i:05d}.png")
    # the JPEG pack
    blobs = []
    for img in images:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=95)
        blobs.append(np.frombuffer(buf.getvalue(), dtype=np.uint8))
    offsets = np.concatenate([[0], np.cumsum([b.size for b in blobs])])
    np.savez(
        tmp_path / "cifar10_jpeg.npz",
        train_jpeg=np.concatenate(blobs),
        train_offsets=offsets,
        train_labels=labels.astype(np.uint8),
    )

    assert find_layout(tmp_path / "batches") == ("batches", root)
    assert find_layout(root)[0] == "batches"
    assert find_layout(tmp_path / "folder")[0] == "folder"
    assert find_layout(tmp_path)[0] == "npz"
    Xb, yb, kind = load_cifar10_train(tmp_path / "batches")
    assert kind == "batches" and Xb.shape == (30, 3072)
    np.testing.assert_array_equal(
        Xb[0], np.r_[np.ones(1024), np.zeros(1024), np.full(1024, 128 / 255)]
    )
    np.testing.assert_array_equal(Xb, flat / 255.0)
    np.testing.assert_array_equal(yb, labels)
    Xf, yf, _ = load_cifar10_train(
        tmp_path / "folder"
    )  # class-sorted, then file order: the same here
    np.testing.assert_array_equal(Xf, Xb)
    np.testing.assert_array_equal(yf, yb)
    Xn, yn, _ = load_cifar10_train(tmp_path / "cifar10_jpeg.npz")
    np.testing.assert_array_equal(yn, labels)
    decoded = np.stack(
        [np.asarray(Image.open(io.BytesIO(b.tobytes())).convert("RGB")) for b in blobs]
    )
    np.testing.assert_array_equal(Xn, decoded.transpose(0, 3, 1, 2).reshape(30, -1) / 255.0)
    Xs, ys, _ = load_cifar10_train(tmp_path / "batches", n_samples=12)
    assert Xs.shape == (12, 3072) and len(np.unique(ys)) > 3  # a random subset, not the first class


def test_cifar_missing_data_is_named(tmp_path):
    with pytest.raises(
        FileNotFoundError, match="cifar-10-batches-py.*cifar10_jpeg.npz.*ImageFolder"
    ):
        find_layout(tmp_path)


def test_cli_options_reach_the_run_sizes(capsys):
    from validation.linear_regression import PROFILES, _parser, _sizes, main

    args = _parser().parse_args(["--quick", "--paths", "50", "--steps", "90", "--no-sweeps"])
    sizes = _sizes(args)
    assert (sizes.paths, sizes.transient_paths, sizes.steps, sizes.sweep_points) == (50, 50, 90, 0)
    assert sizes.transient_steps == PROFILES["quick"].transient_steps
    assert _sizes(_parser().parse_args(["--data-root", "x"])) == PROFILES["cifar"]
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0 and "--data-root" in capsys.readouterr().out
