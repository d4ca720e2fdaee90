"""Every gate and tuning constant of the main job (linear regression), named in one place.

Each says why it has its value. Ensemble sizes live in ``validation.linear_regression.PROFILES``.
"""

#: Acceptance limit on |z| of every exact prediction. The job makes about 70 exact predictions
#: per run; under a correct model each z is about N(0, 1), so P(max |z| > 4) is about
#: 70 * 6.3e-5 = 0.4%: a failure means a wrong prediction, not bad luck.
Z_LIMIT = 4.0

#: Relaxation times of the slowest mode the minibatch ensembles burn in for (they start at the
#: Gaussian model's stationary law, whose distance to their own decays like e^{-k (1 - r)}
#: with r the spectral radius: after 3 relaxation times 5% of it is left, far below the
#: standard errors of the ensembles).
BURN_IN_RELAXATIONS = 3.0

#: Phase-portrait figures: no streamlines inside this fraction of the 95% region's radius, where
#: they would only circle the mean (a readability choice, no number depends on it).
STREAMLINE_HOLE = 0.1
