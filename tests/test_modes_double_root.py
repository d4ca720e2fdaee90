"""``dynlab.modes.discrete_s`` through the double root of ``r^2 - a r + beta``, both signs of a.

The reference is the recursion ``s_{m+1} = a s_m - beta s_{m-1}`` in mpmath at 60 digits on
the same float64 inputs, carried together with its derivatives in ``a`` and ``beta`` (forward
mode), which give the condition number of ``s_m``. A float64 evaluation is accurate when its
error is a few eps times that condition number (plus ``m`` eps for the ``m``-fold powers):
the tolerance of every assert below.
"""

import mpmath as mp
import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from dynlab import config, modes

EPS = config.EPS
DPS = 60


def reference(m, a, beta):
    """``(s_m, condition number of s_m in (a, beta))`` by the recursion at DPS digits."""
    with mp.workdps(DPS):
        a, beta = mp.mpf(a), mp.mpf(beta)
        s0, s1 = mp.mpf(0), mp.mpf(1)
        da0, da1, db0, db1 = (mp.mpf(0),) * 4
        if m == 0:
            return 0.0, 0.0
        for _ in range(m - 1):
            s0, s1, da0, da1, db0, db1 = (
                s1,
                a * s1 - beta * s0,
                da1,
                s1 + a * da1 - beta * da0,
                db1,
                -s0 + a * db1 - beta * db0,
            )
        cond = (abs(a * da1) + abs(beta * db1)) / abs(s1) if s1 != 0 else mp.mpf(0)
        return s1, float(cond)


def tolerance(m, s_ref, cond):
    # forward error of a backward-stable evaluation: eps (cond + m) relative, 16 for the
    # handful of roundings per operation (sqrt, arctan2 / log1p, sinc / expm1, pow)
    return 16 * EPS * (cond + m) * float(abs(s_ref))


double_roots = st.tuples(
    st.floats(1e-4, 0.999),  # beta
    st.sampled_from([-1.0, 1.0]),  # sign of a: the negative double root is a = -2 sqrt(beta)
    st.one_of(
        st.integers(-64, 64).map(lambda k: k * EPS),  # the rounding band, ulp by ulp
        st.floats(-16, -2).flatmap(lambda x: st.sampled_from([-(10.0**x), 10.0**x])),
    ),
)


@given(double_roots, st.integers(0, 300))
@example((0.49, -1.0, 0.0), 3)
@example((0.49, -1.0, -1e-14), 17)
@example((0.81, -1.0, 1e-12), 200)
def test_discrete_s_near_the_double_root_matches_mpmath(root, m):
    beta, sign, offset = root
    a = sign * 2.0 * np.sqrt(beta) * (1.0 + offset)
    s_ref, cond = reference(m, a, beta)
    got = float(modes.discrete_s(m, a, beta))
    assert abs(got - float(s_ref)) <= tolerance(m, s_ref, cond)


@given(st.floats(1e-4, 0.999), st.sampled_from([-1.0, 1.0]), st.integers(1, 300))
@example(0.49, -1.0, 17)
def test_discrete_s_is_continuous_across_the_double_root(beta, sign, m):
    # step a ulp by ulp through the rounding band around a = +-2 sqrt(beta): neighbouring
    # values may differ only by the true change (|ds/da| ulp) plus both rounding errors
    a0 = sign * 2.0 * np.sqrt(beta)
    steps = np.arange(-16, 17)
    a = a0 + steps * np.spacing(a0)
    got = modes.discrete_s(m, a, beta)
    refs = [reference(m, x, beta) for x in a]
    for i in range(len(a) - 1):
        (s0, c0), (s1, c1) = refs[i], refs[i + 1]
        true_step = abs(float(s1 - s0))
        allowed = true_step + tolerance(m, s0, c0) + tolerance(m, s1, c1)
        assert abs(got[i + 1] - got[i]) <= allowed
