"""The zoo's up-front stability check: each scheme's declared step map on a quadratic is its
kernel's (one noise-free step from the unit vectors, per mode), and ``run`` refuses exactly the
step sizes whose growth over the run exceeds ``config.RUN_GROWTH_MAX``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynlab import config
from dynlab.errors import StabilityRegionError
from dynlab.hyper import HeavyBall
from dynlab.integrators import SCHEMES, run
from dynlab.integrators._run import _scheme
from dynlab.models import QuadraticProblem

RHO = np.array([3.0, 1.0, 0.25])
#: per scheme: hyperparameters inside the stability region, with friction where it has one
PARAMS = {
    "gd": dict(lr=0.3, momentum=0.5),
    "sgd": dict(lr=0.3),
    "heavy_ball": dict(lr=0.3, momentum=0.5),
    "nesterov": dict(lr=0.3, momentum=0.5),
    "leapfrog": dict(dt=0.4),
    "symplectic_euler": dict(dt=0.4),
    "damped_leapfrog": dict(dt=0.4, friction=0.3),
    "explicit_euler": dict(dt=0.1, friction=0.5),
    "rk4": dict(dt=0.4, friction=0.3),
    "implicit_midpoint": dict(dt=0.4),
    "euler_maruyama": dict(lr=0.1, momentum=0.5),
    "baoab": dict(lr=0.1, momentum=0.5),
    "obabo": dict(lr=0.1, momentum=0.5),
}


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_declared_step_map_is_the_kernel(name):
    """Columns of the declared map = the kernel's state after one step from e_theta and e_v.

    Rounding: one step of O(1) entries, so 1e-13 (a few hundred eps) bounds the difference.
    """
    problem = QuadraticProblem(np.diag(RHO))
    sch = _scheme(name, problem, PARAMS[name], None)
    M = sch.step_matrices(RHO)  # mode i: coordinate i of the diagonal quadratic
    theta0 = np.vstack([np.ones(3), np.zeros(3)])
    v0 = np.vstack([np.zeros(3), np.ones(3)])
    rec = run(name, problem, n_paths=2, n_steps=1, seed=0, theta0=theta0, v0=v0, **PARAMS[name])
    kernel = np.stack(
        [np.stack([rec.theta[0], rec.theta[1]], -1), np.stack([rec.v[0], rec.v[1]], -1)], -2
    )
    assert np.max(np.abs(kernel - M)) < 1e-13


def test_every_linear_scheme_declares_its_step_map():
    """Only Adam (normalised steps) and the exact OU transition have no linear condition."""
    undeclared = {n for n, c in SCHEMES.items() if c.linear_step is None}
    assert undeclared == {"adam", "adamw", "exact_ou"}
    assert set(PARAMS) == set(SCHEMES) - undeclared


@settings(max_examples=30, deadline=None)
@given(
    momentum=st.floats(0.0, 0.95),
    offset=st.floats(1e-3, 0.3),
    side=st.sampled_from([-1.0, 1.0]),
)
def test_heavy_ball_refused_exactly_beyond_its_limit(momentum, offset, side):
    """Near lr (rho_max) = 2 (1 + momentum): below it the run goes through; above it, with
    enough steps for the growth to pass RUN_GROWTH_MAX, it is refused before any step."""
    limit = HeavyBall(1.0, momentum).stability_limit / RHO.max()
    lr = limit * (1.0 + side * offset)
    problem = QuadraticProblem(np.diag(RHO))
    if side < 0:
        run("heavy_ball", problem, n_paths=1, n_steps=50, seed=0, lr=lr, momentum=momentum)
        return
    # |eigenvalue| of the unstable mode's step map, to size n_steps past the growth limit
    sch = _scheme("heavy_ball", problem, dict(lr=lr, momentum=momentum), None)
    r = np.max(np.abs(np.linalg.eigvals(sch.step_matrices(RHO))))
    n = int(np.ceil(np.log(config.RUN_GROWTH_MAX) / np.log(r))) + 1
    with pytest.raises(StabilityRegionError, match="reduce lr"):
        run("heavy_ball", problem, n_paths=1, n_steps=n, seed=0, lr=lr, momentum=momentum)
