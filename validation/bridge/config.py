"""Every numerical threshold of the bridge, with its reason (none inline in the code).

Importing this module needs neither torch nor a GPU.
"""

#: A time average's verdict (stationary or not, a z-score against a prediction) is refused when
#: its effective sample size n / (2 tau_int) is below this: with fewer effectively independent
#: samples the standard error is itself uncertain by more than ~1 / sqrt(2 ESS) ~ 13% and the
#: autocorrelation-time estimate is biased low (Sokal 1997, sec. 3).
MIN_ESS = 30.0

#: A run counts as stationary when the means of ||delta||^2 over its second and last thirds
#: differ by less than this many combined standard errors (a two-sided 0.3% false alarm rate
#: for Gaussian errors).
STATIONARITY_Z = 3.0

#: Predictions pass when |z| <= Z_GATE (the project's Monte Carlo gate: 6e-5 two-sided for a
#: Gaussian z, so a report with ~100 rows flags a false failure < 1% of the time).
Z_GATE = 4.0

#: Fraction of the base run's steps on which its stationary speed is measured and the sweep
#: prediction calibrated: the second half (earlier steps relax from theta*, which is not a
#: stationary point of the resumed dynamics).
WINDOW_START = 0.5


#: Trace weights at Ritz values beyond the stability edge lr (rho + lambda) < 2 (1 + beta) are
#: evaluated at this fraction of the edge: the stationary variance diverges at the edge, and a
#: Ritz value there means the sweep's own run is not stationary (its row says so).
EDGE_CLIP = 0.999
