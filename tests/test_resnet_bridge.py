"""The GPU bridge's parts on the CPU: data, model, flat parameters, Hessian, energy, conservation.

Each check compares with an independent reference: naive numpy re-implementations, torch.optim,
finite differences, scipy's eigh, direct recomputation. Float64 models are used where a law is
exact, so that the tolerance is rounding.
"""

import io
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from validation.bridge import conservation as cons  # noqa: E402
from validation.bridge import sections_seeds as laws  # noqa: E402
from validation.bridge.analysis import delta_H, noise_covariance  # noqa: E402
from validation.bridge.checkpoint import Budget, StateDir  # noqa: E402
from validation.bridge.data import (  # noqa: E402
    CLASSES,
    CROP_PAD,
    BatchStream,
    DeviceData,
    load_cifar10,
    stream_seed,
)
from validation.bridge.eigen import lanczos_topk  # noqa: E402
from validation.bridge.energy import EnergyRun, energy_run, round_trip  # noqa: E402
from validation.bridge.flat import FlatParams, frozen_bn, heavy_ball_step  # noqa: E402
from validation.bridge.hessian import fixed_batches, hvp_operator  # noqa: E402
from validation.bridge.model import ResNet18, mass_inverse, scale_invariant_weights  # noqa: E402
from validation.bridge.noise import minibatch_gradients  # noqa: E402

pytestmark = pytest.mark.bridge

EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)


@pytest.fixture(autouse=True)
def _one_thread():
    saved = torch.get_num_threads()
    torch.set_num_threads(1)  # two xdist workers on two cores
    yield
    torch.set_num_threads(saved)


def _images(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.permutation(
        np.arange(n) % 10
    ).astype(np.int64)


def _jpeg(img):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=100, subsampling=0)
    return buf.getvalue()


def _png(img):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def tiny_sets(tmp_path_factory):
    """The same 20 train / 10 test images written in the three formats."""
    root = tmp_path_factory.mktemp("cifar")
    trx, try_ = _images(20, 0)
    tex, tey = _images(10, 1)
    # python batches (the release's pickle layout: R, G, B planes of 1024 bytes each)
    d = root / "batches" / "cifar-10-batches-py"
    d.mkdir(parents=True)
    for k in range(5):
        sl = slice(4 * k, 4 * k + 4)
        with open(d / f"data_batch_{k + 1}", "wb") as f:
            pickle.dump(
                {
                    b"data": trx[sl].transpose(0, 3, 1, 2).reshape(4, -1),
                    b"labels": try_[sl].tolist(),
                },
                f,
            )
    with open(d / "test_batch", "wb") as f:
        pickle.dump(
            {b"data": tex.transpose(0, 3, 1, 2).reshape(10, -1), b"labels": tey.tolist()}, f
        )
    # ImageFolder, lossless PNG
    for split, xs, ys in (("train", trx, try_), ("test", tex, tey)):
        for i, (x, y) in enumerate(zip(xs, ys)):
            p = root / "folder" / split / CLASSES[y]
            p.mkdir(parents=True, exist_ok=True)
            (p / f"{i:05d}.png").write_bytes(_png(x))
    # the JPEG pack
    arrays = {}
    for split, xs, ys in (("train", trx, try_), ("test", tex, tey)):
        blobs = [_jpeg(x) for x in xs]
        arrays[f"{split}_jpeg"] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
        arrays[f"{split}_offsets"] = np.concatenate(
            [[0], np.cumsum([len(b) for b in blobs])]
        ).astype(np.int64)
        arrays[f"{split}_labels"] = ys.astype(np.uint8)
    np.savez(root / "cifar10_jpeg.npz", **arrays)
    return root, (trx, try_, tex, tey)


def _sorted(x, y):
    order = np.lexsort((x.reshape(len(x), -1)[:, :8].T[::-1].tolist() + [y]))
    return x[order], y[order]


def test_readers_return_the_written_images(tiny_sets):
    root, (trx, try_, tex, tey) = tiny_sets
    b = load_cifar10(root / "batches")
    np.testing.assert_array_equal(b.train_x, trx)
    np.testing.assert_array_equal(b.train_y, try_)
    np.testing.assert_array_equal(b.test_x, tex)
    f = load_cifar10(root / "folder")  # round-robin class order: compare as multisets
    for got, want in (
        (_sorted(f.train_x, f.train_y), _sorted(trx, try_)),
        (_sorted(f.test_x, f.test_y), _sorted(tex, tey)),
    ):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    z = load_cifar10(root / "cifar10_jpeg.npz")
    np.testing.assert_array_equal(z.train_y, try_)
    # JPEG at quality 100 without chroma subsampling: off by rounding of the DCT, a few levels at
    # most, where unrelated uniform images differ by 85 on average
    assert np.abs(z.train_x.astype(int) - trx).mean() < 5


def test_reader_prefix_and_missing_data(tiny_sets, tmp_path):
    root, (trx, try_, *_) = tiny_sets
    b = load_cifar10(root / "batches", n_train=6, n_test=3)
    np.testing.assert_array_equal(b.train_x, trx[:6])
    assert len(b.test_y) == 3
    f = load_cifar10(root / "folder", n_train=10)
    assert len(set(f.train_y.tolist())) == 10  # a round-robin prefix holds every class
    with pytest.raises(FileNotFoundError, match="no CIFAR-10"):
        load_cifar10(tmp_path)


def _naive_augment(imgs, dy, dx, flip):
    p = CROP_PAD
    out = []
    for img, a, b, f in zip(imgs, dy, dx, flip):
        padded = np.zeros((32 + 2 * p, 32 + 2 * p, 3), dtype=img.dtype)
        padded[p : p + 32, p : p + 32] = img
        crop = padded[a : a + 32, b : b + 32]
        out.append(crop[:, ::-1] if f else crop)
    return np.stack(out)


@pytest.mark.parametrize("channels_last", [False, True])
def test_device_augmentation_is_crop_and_flip(channels_last):
    x, y = _images(16, 2)
    data = DeviceData(x, y, "cpu", channels_last=channels_last, dtype=torch.float64)
    idx = torch.arange(16)
    seed = 123
    xb, yb = data.take(idx, augment=True, generator=torch.Generator().manual_seed(seed))
    g = torch.Generator().manual_seed(seed)  # replay the draws in the documented order
    shift = torch.randint(0, 2 * CROP_PAD + 1, (2, 16), generator=g).numpy()
    flip = torch.randint(0, 2, (16,), generator=g).numpy().astype(bool)
    want = _naive_augment(x, shift[0], shift[1], flip)
    mean, std = np.array([0.4914, 0.4822, 0.4465]) * 255, np.array([0.2470, 0.2435, 0.2616]) * 255
    want = ((want - mean) / std).transpose(0, 3, 1, 2)
    # same float64 operations in another order: a few eps of |x| <= 255 / (0.24 * 255)
    np.testing.assert_allclose(xb.numpy(), want, rtol=0, atol=16 * EPS64 * 5)
    assert torch.equal(yb, torch.as_tensor(y))
    assert xb.is_contiguous(
        memory_format=torch.channels_last if channels_last else torch.contiguous_format
    )
    assert flip.any() and not flip.all() and np.ptp(shift) > 0  # the draw exercised both branches


def test_batch_stream_is_a_pure_function_of_the_step():
    x, y = _images(40, 3)
    data = DeviceData(x, y, "cpu", channels_last=False)
    s1 = BatchStream(data, 8, seed=5, stream=1, augment=True)
    s2 = BatchStream(data, 8, seed=5, stream=1, augment=True)
    for k in (7, 0, 3, 12, 3):  # out of order, across epochs (5 steps each)
        assert torch.equal(s1.batch(k)[0], s2.batch(k)[0])
    epoch = torch.cat([s1.indices(k) for k in range(5)])
    assert sorted(epoch.tolist()) == list(range(40))
    other = BatchStream(data, 8, seed=5, stream=2, augment=True)
    assert not torch.equal(torch.cat([other.indices(k) for k in range(5)]), epoch)
    with pytest.raises(ValueError, match="batch_size"):
        BatchStream(data, 41, seed=0, stream=0, augment=False)


def test_stream_seeds_of_different_keys_differ():
    # SeedSequence pads short entropy with zero words: with the keys as one flat list, epoch 0's
    # permutation (seed, stream, 0) and step 0's augmentation (seed, stream, 0, 0) were one
    # stream, and a seed >= 2**32 (two words) collided with a (seed, stream) pair
    assert stream_seed(5, 1, 0) != stream_seed(5, 1, 0, 0)
    assert stream_seed(2**32, 5) != stream_seed(0, 1, 5)
    keys = [(s, *k) for s in (0, 1, 2**32) for k in [(), (0,), (0, 0), (1, 0), (0, 1), (0, 0, 1)]]
    assert len({stream_seed(*k) for k in keys}) == len(keys)
    assert all(0 <= stream_seed(*k) < 2**63 for k in keys)  # torch.Generator.manual_seed's range
    with pytest.raises(ValueError, match="2\\*\\*32"):
        stream_seed(7, 2**32, 5)  # two words: would collide with (7, 0, 1 + 5 * 2**32)


def test_resnet18_structure():
    model = ResNet18()
    assert (
        sum(p.numel() for p in model.parameters()) == 11_173_962
    )  # the CIFAR ResNet-18 of the literature
    names = scale_invariant_weights(model)
    assert len(names) == 20  # stem + 16 block convs + 3 shortcut convs, each followed by BN
    assert all(n.endswith("weight") and "bn" not in n for n in names)
    mi = mass_inverse(model)
    assert mi["conv1.weight"] == pytest.approx(1 / np.sqrt(27))  # fan-in 3 * 3 * 3
    assert mi["layer1.0.conv1.weight"] == 1 / 8  # 1 / sqrt(576) clipped to [1/8, 8]
    assert mi["fc.weight"] == 1 / 8 and mi["fc.bias"] == 1.0 and mi["bn1.weight"] == 1.0


def _tiny(width=2, dtype=torch.float64, channels_last=False, seed=0):
    torch.manual_seed(seed)
    model = ResNet18(width).to(dtype)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model.train()


def _batch(n=8, seed=0, dtype=torch.float64, channels_last=False):
    x, y = _images(n, seed)
    return DeviceData(x, y, "cpu", channels_last=channels_last, dtype=dtype)


@pytest.mark.parametrize("channels_last", [False, True])
def test_flat_params_and_heavy_ball_match_torch_sgd(channels_last):
    model = _tiny(channels_last=channels_last)
    ref = _tiny(channels_last=channels_last)
    flat = FlatParams(model)
    for p in model.parameters():  # parameters and gradients live in the flat buffers
        assert p.untyped_storage().data_ptr() == flat.theta.untyped_storage().data_ptr()
    opt = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-3)
    data = _batch(channels_last=channels_last)
    stream = BatchStream(data, 4, seed=0, stream=0, augment=False)
    buf, scratch = torch.zeros_like(flat.theta), torch.empty_like(flat.theta)
    for k in range(4):
        x, y = stream.batch(k)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        flat.zero_grad()
        loss.backward()
        heavy_ball_step(
            flat.theta, flat.grad, buf, scratch, lr=0.05, momentum=0.9, weight_decay=5e-3
        )
        opt.zero_grad()
        torch.nn.functional.cross_entropy(ref(x), y).backward()
        opt.step()
    for (n, p), q in zip(model.named_parameters(), ref.parameters()):
        # same float64 operations; a reordered sum in the backward pass may differ by rounding
        torch.testing.assert_close(p, q, rtol=1e3 * EPS64, atol=1e3 * EPS64, msg=n)


def test_hvp_against_finite_differences_and_symmetry():
    model = _tiny(width=1)
    flat = FlatParams(model)
    batches = fixed_batches(_batch(), 8, 4)
    Hv = hvp_operator(model, flat, batches)
    gen = torch.Generator().manual_seed(0)
    u, v = (torch.randn(flat.n, generator=gen, dtype=torch.float64) for _ in range(2))
    u, v = u / u.norm(), v / v.norm()
    hv, hu = Hv(v), Hv(u)
    # symmetric operator: <u, Hv> = <v, Hu> up to rounding of two length-n dot products
    assert abs(u.dot(hv) - v.dot(hu)) <= 100 * EPS64 * flat.n**0.5 * (hv.norm() + hu.norm())
    theta0 = flat.theta.clone()

    def grad_at(t):
        flat.theta.copy_(t)
        flat.zero_grad()
        with frozen_bn(model):
            for x, y in batches:
                (torch.nn.functional.cross_entropy(model(x), y) * len(y) / 8).backward()
        return flat.grad.clone()

    h = 1e-5
    fd = (grad_at(theta0 + h * v) - grad_at(theta0 - h * v)) / (2 * h)
    flat.theta.copy_(theta0)
    # central differences: truncation O(h^2 |D^3 L|) ~ 1e-10 relative, rounding eps |g| / h ~ 1e-11;
    # a ReLU kink crossed inside [-h, h] would break this, and does not at h = 1e-5 for this seed
    torch.testing.assert_close(hv, fd, rtol=0, atol=1e-6 * hv.norm().item())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lanczos_top_k_against_eigh(seed):
    rng = np.random.default_rng(seed)
    n, k = 250, 8
    Qm, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.concatenate(
        [np.geomspace(40, 2, 15), rng.uniform(-1.0, 1.0, n - 15)]
    )  # outliers + indefinite bulk
    H = torch.tensor((Qm * lam) @ Qm.T)
    res = lanczos_topk(lambda x: H @ x, n, k, dtype=torch.float64, tol=1e-10, seed=seed)
    true = np.linalg.eigvalsh(H.numpy())[::-1][:k]
    # Weyl: each Ritz value lies within its residual norm of an eigenvalue (symmetric H)
    assert np.all(np.abs(res.rho - true) <= res.residuals + 100 * EPS64 * 40)
    assert np.all(
        res.residuals <= 1e-8 * 40
    )  # the stopping bound (tol * rho_1), checked explicitly
    G = res.Q @ res.Q.T
    torch.testing.assert_close(G, torch.eye(k, dtype=torch.float64), rtol=0, atol=1e-10)


def test_lanczos_rejects_bad_k():
    with pytest.raises(ValueError, match="k"):
        lanczos_topk(lambda x: x, 5, 5)


def test_leapfrog_reverses_and_euler_does_not():
    data = _batch(16)
    errs = {}
    for method in ("leapfrog", "euler"):
        errs[method] = round_trip(
            method, 0.05, 4, _tiny(width=1), data, seed=0, stream=0, batch_size=8, augment=False
        )
    # leapfrog in float64: 2 x 4 steps of rounding, each a few eps of |theta|
    assert errs["leapfrog"] < 1e3 * EPS64
    assert errs["euler"] > 1e6 * errs["leapfrog"]


def test_energy_cap_sets_energy_to_cap_when_it_fires():
    run = EnergyRun("leapfrog", 2.0, seed=0, steps=6, batch_size=8, damping=1e-3, cap=1.05)
    res = energy_run(run, _tiny(width=1), _batch(16), augment=False, stream=0)
    fired = res["capped"] > 0
    assert fired.any()
    H1 = res["K1"] + res["L1"]
    # after rescaling p, K = alpha H0 - L exactly up to rounding (alpha H0 - L > 0 here)
    np.testing.assert_allclose(H1[fired], run.cap * res["H0"], rtol=1e3 * EPS64)
    assert np.all(H1[~fired] <= run.cap * res["H0"] * (1 + 1e3 * EPS64))
    dH = delta_H(res)
    np.testing.assert_allclose(dH["consecutive"], np.diff(res["K0"] + res["L0"]))
    assert len(dH["same_batch"]) == run.steps


def test_first_order_kinetic_energy_is_step_norm_over_two_lr():
    run = EnergyRun("sgd", 0.1, seed=0, steps=3, batch_size=8, momentum=0.9)
    res = energy_run(run, _tiny(width=1), _batch(16), augment=False, stream=0)
    assert res["K0"][0] == 0.0 and np.all(res["K1"] > 0) and np.all(res["capped"] == 0)
    np.testing.assert_array_equal(res["K0"][1:], res["K1"][:-1])


def _bn_eps_zero(model):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eps = (
                1e-300  # var + eps == var: exact scale invariance (BN's eps breaks it at eps / var)
            )
    return model


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_conservation_laws_hold_exactly(momentum):
    hp = dict(lr=0.05, momentum=momentum, weight_decay=5e-3)
    model = _bn_eps_zero(_tiny(width=2))
    res = cons.conservation_run(
        model, _batch(32), **hp, batch_size=8, steps=10, seed=0, stream=0, augment=False
    )
    K = 10
    s = res["colsum"]
    s_exact = laws.translation_exact(s[0], K, **hp)
    # float64 rounding of sums over 10 classes, accumulated over 10 steps
    np.testing.assert_allclose(s, s_exact, rtol=0, atol=1e4 * EPS64 * np.abs(s[0]).max())
    cos = np.abs(res["tg"]) / np.sqrt(res["a"] * res["gg"])
    assert cos.max() < 1e6 * EPS64  # <theta_A, g_A> = 0 up to rounding
    a = np.vstack([res["a"], res["a_end"]])
    a_exact = laws.scale_exact(res["a"][0], res["vv"], **hp)
    np.testing.assert_allclose(a, a_exact, rtol=1e5 * EPS64)
    if momentum == 0.0:  # the exact recursion driven by the gradient norms (seed 001 setting)
        a_g = [res["a"][0]]
        for k in range(K):
            a_g.append(
                (1 - hp["lr"] * hp["weight_decay"]) ** 2 * a_g[-1] + hp["lr"] ** 2 * res["gg"][k]
            )
        np.testing.assert_allclose(a, np.array(a_g), rtol=1e5 * EPS64)
        # seed 001's continuous law (dynlab's modified flow, tested in dynlab) against the exact
        # discrete law: per step the drive differs by lr^2 |G_{k+1} - G_k| / 2 (trapezoid vs left
        # point; the last step holds G) and the decay by O((lr lambda)^2) of a
        a_seed = laws.scale_seed(
            res["a"][0], res["gg"], lr=hp["lr"], weight_decay=hp["weight_decay"]
        )
        lr, lam = hp["lr"], hp["weight_decay"]
        bound = 0.5 * lr**2 * np.abs(np.diff(res["gg"], axis=0)).sum(0)
        bound = bound + 2 * K * (lr * lam) ** 2 * a.max(0) + 1e3 * EPS64 * a.max(0)
        assert np.all(np.abs(a_seed - a).max(0) <= bound)


def test_translation_seed_law_is_the_small_step_limit():
    hp = dict(lr=1e-3, momentum=0.0, weight_decay=1e-2)
    K = 1000
    s_exact = laws.translation_exact(np.ones(3), K, **hp)
    s_seed = laws.translation_seed(np.ones(3), K, **hp)
    # (1 - x)^k = e^{-k x} e^{-k (x^2 / 2 + x^3 / 3 + ...)}, x = lr lambda: the gap in closed form
    x, k = hp["lr"] * hp["weight_decay"], np.arange(K + 1)[:, None]
    want = s_seed * (1 - np.exp(-k * (x**2 / 2 + x**3 / 3)))
    # the gap (<= 5e-8) against rounding of K float64 products (1e-13) and the x^4 term
    # (k x^4 / 4 ~ 1e-18)
    np.testing.assert_allclose(s_seed - s_exact, want, rtol=1e-4, atol=1e-12)


def test_minibatch_gradient_statistics_against_direct_computation():
    model = _tiny(width=1)
    flat = FlatParams(model)
    data = _batch(24)
    gen = torch.Generator().manual_seed(0)
    Q = torch.linalg.qr(torch.randn(flat.n, 3, generator=gen, dtype=torch.float64))[
        0
    ].T.contiguous()
    from contextlib import nullcontext

    res = minibatch_gradients(
        model,
        flat,
        data,
        Q,
        batch_size=8,
        n_batches=5,
        seed=0,
        stream=9,
        augment=False,
        autocast=nullcontext,
    )
    stream = BatchStream(data, 8, seed=0, stream=9, augment=False)
    G = []
    with frozen_bn(model):
        for b in range(5):
            x, y = stream.batch(b * stream.steps_per_epoch)  # independent: one per epoch
            G.append(
                torch.autograd.grad(torch.nn.functional.cross_entropy(model(x), y), flat.params)
            )
    G = torch.stack(
        [torch.cat([g.reshape(-1) for g in gs]) for gs in G]
    )  # logical order: norms/dots agree
    Gf = torch.stack(
        [
            flat.gather(gs)
            for gs in [
                [g.view_as(p) for g, p in zip(gsplit, flat.params)]
                for gsplit in [torch.split(row, [p.numel() for p in flat.params]) for row in G]
            ]
        ]
    )
    mean = Gf.mean(0)
    np.testing.assert_allclose(res["proj"], (Gf @ Q.T).numpy(), rtol=1e-10)
    np.testing.assert_allclose(res["centred_sqnorm"], ((Gf - mean) ** 2).sum(1).numpy(), rtol=1e-10)
    nc = noise_covariance(res)
    direct = 8 * np.var(res["proj"], axis=0, ddof=1)  # Sigma = S Cov(g_B), no second fpc
    np.testing.assert_allclose(nc["qSq"], direct, rtol=1e-12)


def test_noise_covariance_estimator_is_unbiased_monte_carlo():
    rng = np.random.default_rng(1)
    M, k, S, N = 4000, 3, 16, 10**9
    sd = np.array([1.0, 2.0, 0.5])
    res = {
        "proj": rng.standard_normal((M, k)) * sd,
        "centred_sqnorm": rng.chisquare(5, M),
        "N": N,
        "S": S,
    }
    nc = noise_covariance(res)
    z = (nc["qSq"] - S * sd**2) / nc["qSq_se"]
    assert np.all(np.abs(z) < 4)  # Monte Carlo: z-scores of three estimates, fixed seed
    z_tr = (nc["trSigma"] - S * 5.0 * M / (M - 1)) / nc["trSigma_se"]
    assert abs(z_tr) < 4


def test_state_dir_guards_resume(tmp_path):
    StateDir(tmp_path, {"a": 1}, resume=False)
    with pytest.raises(FileExistsError, match="--resume"):
        StateDir(tmp_path, {"a": 1}, resume=False)
    with pytest.raises(ValueError, match="a: saved 1, now 2"):
        StateDir(tmp_path, {"a": 2}, resume=True)
    st = StateDir(tmp_path, {"a": 1}, resume=True)
    st.save("x", {"t": torch.arange(3)})
    assert torch.equal(st.load("x")["t"], torch.arange(3)) and st.load("y") is None
    b = Budget(max_steps=2)
    b.tick()
    assert not b.exhausted
    b.tick()
    assert b.exhausted


def test_atomic_phases_start_only_at_the_beginning_of_a_timed_invocation():
    from validation.bridge.checkpoint import Interrupted
    from validation.bridge.pipeline import Context

    def ctx(budget):
        return Context(
            args=None, rt=None, train=None, test=None, state=None, budget=budget, log=print
        )

    fresh, used = Budget(seconds=1e6), Budget(seconds=1e6)
    used.tick()
    ctx(fresh).stop_if_exhausted("hessian")  # first thing of the invocation: runs
    ctx(used).stop_if_exhausted("base")  # checkpointed phases go on
    with pytest.raises(Interrupted, match="next invocation"):
        ctx(used).stop_if_exhausted("hessian")
    counted = Budget(max_steps=10)  # no time limit: nothing to protect
    counted.tick()
    ctx(counted).stop_if_exhausted("hessian")
