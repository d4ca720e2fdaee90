"""dynlab.hyper.HeavyBall: validation of each field and the derived constants."""

import numpy as np
import pytest

from dynlab.errors import HyperparameterError
from dynlab.hyper import HeavyBall, as_heavy_ball


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(lr=0.0), "lr"),
        (dict(lr=-1.0), "lr"),
        (dict(lr=np.nan), "lr"),
        (dict(lr=1j), "lr"),
        (dict(lr=True), "lr"),
        (dict(lr=0.1, momentum=1.0), "momentum"),
        (dict(lr=0.1, momentum=-0.1), "momentum"),
        (dict(lr=0.1, weight_decay=-1e-3), "weight_decay"),
        (dict(lr=0.1, batch_size=0), "batch_size"),
        (dict(lr=0.1, batch_size=2.5), "batch_size"),
        (dict(lr=0.1, batch_size=2.0), "batch_size"),
        (dict(lr=0.1, dampening=1.0), "dampening"),
        (dict(lr=0.1, nesterov=1), "nesterov"),
        (dict(lr=0.1, nesterov=True, dampening=0.5), "nesterov"),
        (dict(lr=[0.1, 0.2], momentum=[0.1, 0.2, 0.3]), "broadcast"),
    ],
)
def test_bad_fields_name_themselves(kwargs, name):
    with pytest.raises(HyperparameterError, match=name):
        HeavyBall(**kwargs)


def test_derived_constants_against_their_definitions():
    # Each constant is compared with its formula written out; rounding: a few eps relative.
    lr, b, S, wd = 0.03, 0.95, 16, 1e-3
    hp = HeavyBall(lr=lr, momentum=b, weight_decay=wd, batch_size=S)
    rtol = 8 * np.finfo(float).eps
    assert hp.kappa == pytest.approx(S * (1 - b * b), rel=1e-13)  # 1 - b^2 itself loses ~2 digits
    assert hp.c1 == pytest.approx(2 / (lr * (1 + b)), rel=rtol)
    assert hp.c2 == pytest.approx(2 * (1 - b) / (lr * (1 + b)), rel=rtol)
    assert hp.gamma == pytest.approx((1 - b) / (lr * (1 + b)), rel=rtol)
    assert hp.mass == pytest.approx(lr * (1 + b) / 2, rel=rtol)
    assert hp.max_stable_lr(2.0) == pytest.approx(2 * (1 + b) / (2.0 + wd), rel=rtol)
    assert hp.omega(np.array([1.0, 2.0])) == pytest.approx(
        np.sqrt(2 * (np.array([1.0, 2.0]) + wd) / (lr * (1 + b))), rel=rtol
    )


def test_kappa_keeps_digits_as_momentum_tends_to_one():
    b = 1 - 1e-12
    hp = HeavyBall(lr=1.0, momentum=b)
    exact = (1 - b) * (1 + b)  # 1 - b is exact in binary for this b
    assert hp.kappa == exact


def test_sweep_broadcasts_and_kernel_tuple_refuses_it():
    hp = HeavyBall(
        lr=np.geomspace(1e-3, 1e-1, 5),
        momentum=np.array([[0.0], [0.9]]),
        batch_size=[1, 2, 4, 8, 16],
    )
    assert hp.shape == (2, 5)
    assert hp.kappa.shape == (2, 5)
    assert hp.omega(np.ones(3)).shape == (2, 5, 3)
    with pytest.raises(HyperparameterError, match="sweep"):
        hp.as_tuple()
    assert HeavyBall(0.1, 0.5, 0.0, 3).as_tuple() == (0.1, 0.5, 0.0, 3, 0.0, False)


def test_as_heavy_ball_refuses_both_forms():
    with pytest.raises(HyperparameterError, match="not both"):
        as_heavy_ball(HeavyBall(lr=0.1), lr=0.2)
    with pytest.raises(HyperparameterError, match="lr is required"):
        as_heavy_ball(momentum=0.5)
    assert as_heavy_ball(lr=0.1).lr == 0.1


def test_plain_heavy_ball_required_where_modelled():
    with pytest.raises(HyperparameterError, match="dampening"):
        HeavyBall(lr=0.1, dampening=0.1).require_plain("SGDPhaseSpace")


def test_omega_of_a_sweep_whose_fields_have_different_shapes():
    # c1 does not depend on batch_size: it must still be spread over the sweep's full shape
    hp = HeavyBall(lr=0.1, momentum=[0.0, 0.5], batch_size=[[1], [2], [4]])
    rho = np.array([1.0, 2.0])
    got = hp.omega(rho)
    assert got.shape == (3, 2, 2)
    ref = np.sqrt(2 * rho / (0.1 * (1 + np.array([0.0, 0.5])[:, None])))
    np.testing.assert_allclose(got, np.broadcast_to(ref, (3, 2, 2)), rtol=4 * np.finfo(float).eps)
