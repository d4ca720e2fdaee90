"""Every numerical threshold dynlab uses, named in one place.

Each constant is a *relative* tolerance (scaled by a norm of the matrix it judges) unless its
name says otherwise; none is a bare absolute cut-off.
"""

import numpy as np

#: Machine epsilon of float64.
EPS = float(np.finfo(np.float64).eps)

#: A matrix M counts as symmetric when ||M - M^T||_max <= SYMMETRY_RTOL * ||M||_max.
#: Products such as X^T X / N are symmetric to a few eps; user-typed matrices exactly.
SYMMETRY_RTOL = 1e-10

#: A symmetric matrix counts as positive semi-definite when its smallest eigenvalue is
#: >= -PSD_RTOL * (its largest absolute eigenvalue): eigh's backward error is O(n eps ||M||).
PSD_RTOL = 1e-10

#: A drift matrix A counts as stable when every eigenvalue has real part
#: > STABILITY_RTOL * ||A||_2 (the generic Lyapunov solver uses ||A||_F >= ||A||_2, free from
#: its Schur form). Closer to the imaginary axis the stationary covariance is
#: not resolvable in float64 (its norm grows like 1 / min Re(lambda)).
STABILITY_RTOL = 1e-12

#: The discrete counterpart: a linear step map F counts as stable when its spectral radius is
#: < 1 - MAP_STABILITY_MARGIN (LeapfrogQuadratic.stationary). Closer to 1 the Stein solution
#: P = F P F^T + G G^T grows like 1 / (1 - radius) and is not resolvable in float64.
MAP_STABILITY_MARGIN = 1e-12

#: The Lyapunov solution B counts as singular (the process is not controllable) when its
#: Cholesky factorisation breaks down or LAPACK's estimate of its 1-norm condition number (from
#: the factor, O(n^2); within a factor n of the 2-norm one, which would need an SVD) exceeds
#: 1 / SINGULAR_RTOL. A commuting Sigma is judged by its eigenvalues, to the same ratio.
SINGULAR_RTOL = 1e-12

#: A positive-definite matrix (H + weight_decay I) whose condition number reaches CONDITION_WARN
#: is accepted with a ConditioningWarning: solves with it lose about log10(cond) digits, so at
#: 1e10 only ~6 of 16 remain. (It is refused as singular only when its smallest eigenvalue is
#: <= n eps times its largest, within eigh's backward error.)
CONDITION_WARN = 1e10

#: Generic Lyapunov solver (dynlab._lyapunov): triangular systems up to this order go to LAPACK's
#: dtrsyl directly (scipy's path, so equal to scipy there); larger ones are split recursively into
#: halves joined by matrix products (level-3 BLAS). ``python benchmarks/performance.py --block``
#: scans it: single-threaded BLAS, 2 shared cores, scipy / dynlab time with blocks 32, 64, 128 was
#: 0.76-1.47x (noise around 1: the same dtrsyl call) for n <= 64, 1.04-1.21x at n = 128,
#: 2.2-2.3x at n = 256 and 2.4-2.5x at n = 512; no block size stood out, 64 sits in the middle.
LYAPUNOV_BLOCK = 64

#: Sigma counts as commuting with H (seed 003 Assumption 3) when
#: ||H Sigma - Sigma H||_F <= COMMUTE_RTOL * ||H||_2 ||Sigma||_F (Frobenius norms: invariant
#: under the eigenbasis of H, so the test runs in O(d^2) on q^T Sigma q; its rounding there is
#: O(d eps) relative, far below 1e-10 for any d a dense matrix allows).
COMMUTE_RTOL = 1e-10

#: OU transition (Van Loan's block exponential): the step is halved s times until
#: ||A||_1 tau <= VAN_LOAN_NORM_MAX, then doubled back. Below 1, expm's Pade approximant needs
#: no squaring of its own and the doubling C(2 tau) = C + Phi C Phi^T adds PSD terms only, so
#: the covariance keeps its relative accuracy however long t is.
VAN_LOAN_NORM_MAX = 1.0

#: numba's cache of the zoo's kernels (dynlab.integrators._cache): every edit of dynlab's sources
#: gives a new keyed folder (10-30 MB each); folders of other sources are removed once they are
#: beyond the NUMBA_CACHE_KEEP most recently used and unused for NUMBA_CACHE_KEEP_DAYS days (a
#: developer switching between a few checkouts keeps all of them).
NUMBA_CACHE_KEEP = 8
NUMBA_CACHE_KEEP_DAYS = 7.0

#: Integrator zoo, ``run(layout="auto")``: with d >= INTEGRATOR_BLAS_MIN_DIM all paths step
#: together and the products over paths (H theta, noise factors) are one BLAS GEMM per step;
#: below it each thread advances its own paths with loops, never synchronising within a chunk.
#: ``python benchmarks/integrators.py --crossover`` (M = 256, 2 cores, other jobs running):
#: loops won up to d = 256 (3x there: multi-threaded BLAS stalls when the cores are shared),
#: GEMMs from d = 512 (2.6x); on an idle machine GEMMs win earlier, by < 2x below 512.
INTEGRATOR_BLAS_MIN_DIM = 512

#: integrators.run refuses up front a run whose step map on the quadratic (its spectral radius r
#: over every mode, raised to n_steps) amplifies the state by more than RUN_GROWTH_MAX: past
#: that the recorded numbers measure the instability, not the dynamics (at the float limit they
#: reach 1e300). 1e6 leaves room for schemes that drift slowly by design (explicit Euler grows by
#: exp(n dt^2 omega^2 / 2) on a harmonic well).
RUN_GROWTH_MAX = 1e6

#: Energy cap of seed 000 eq. 7: the guard epsilon in max(eps, alpha H0 - L) and max(eps, K).
#: An absolute value, as in the paper (energies in nats), used only against division by zero.
ENERGY_CAP_EPS = 1e-12

#: Implicit midpoint rule: the fixed-point iteration for the midpoint stops when every path's
#: update is <= IMPLICIT_RTOL * (its largest absolute component). The iteration stalls at a few eps
#: relative (rounding of z + dt/2 f(Y)), so 1e-14 (~45 eps) is reachable and leaves an error
#: far below any discretization error.
IMPLICIT_RTOL = 1e-14

#: Implicit midpoint rule: at most this many fixed-point rounds per step (each contracts the
#: error by about dt/2 ||f'||); more means dt is too large and the run is stopped.
IMPLICIT_MAX_ITER = 100

# --- neural mechanics, thermodynamics and energy drift (issue 7) ---------------------------

#: Step of the complex-step derivative used for Hessian-vector products of the toy networks
#: (``H v = Im grad(theta + i h v) / h``). It has no subtractive cancellation, so any h far
#: below sqrt(eps) gives the product to rounding; the truncation error is O(h^2 ||v||^2).
COMPLEX_STEP = 1e-30

#: Relative accuracy to which the generalized chi-square CDF (Imhof / Gil-Pelaez inversion)
#: is integrated; the median of ``|Delta H|`` is then found to the same relative accuracy.
GCHI2_RTOL = 1e-10

# --- neural mechanics and thermodynamics: dynlab.symmetry, dynlab.thermo (issue 12) -----------

#: log I_nu(x) is taken from scipy's exponentially scaled ``ive(nu, x)`` while that exceeds
#: BESSEL_IVE_FLOOR; below it ive nears the subnormal range (losing digits, then 0) and the
#: power series in x^2/4 takes over.
BESSEL_IVE_FLOOR = 1e-280

#: log I_nu(x) switches to Hankel's large-x expansion (4 terms) when
#: x > BESSEL_HANKEL_RATIO * (nu + 1), where scipy's ive can return NaN (x >~ 1e9); there the
#: truncation error is below ((4 nu^2) / (8 x))^4 < 1e-12 relative.
BESSEL_HANKEL_RATIO = 1e3

#: The power series of I_nu stops when a term is below BESSEL_SERIES_RTOL * the partial sum:
#: under eps / 10, so the sum is complete to rounding (the terms decrease geometrically).
BESSEL_SERIES_RTOL = 1e-17

#: Thermometer (von Mises-Fisher mean cosine -> temperature): the root in log(kappa) is
#: searched in [-VMF_LOG_KAPPA_BRACKET, VMF_LOG_KAPPA_BRACKET], i.e. kappa = h / T from
#: 1.4e-11 to 7.2e10: at the ends -E t = A_d(kappa) ~ kappa / d is within 1e-11 of 0 and
#: 1 - A_d ~ (d - 1) / (2 kappa) within 1e-8 of 1 (d <= 1000), beyond any measured mean cosine.
VMF_LOG_KAPPA_BRACKET = 25.0

#: brentq's tolerance (xtol and rtol) on log(kappa) for the thermometer: ~45 eps, above
#: brentq's floor of 4 eps, so the temperature is found to ~1e-14 relative.
VMF_INVERSION_RTOL = 1e-14

# --- minibatch: exact moments of SGD on finite data ----------------------------------------

#: Stationary second moment of minibatch SGD: GMRES on the d^2 unknowns of the position block
#: stops at this normwise backward error ||r|| / (||b|| + ||Y||) (the operator I - L has norm
#: ~1). The solution's relative error is about this times the condition number
#: ~1 / (1 - rho(L)); 1e-12 sits a few hundred eps above the rounding floor of one matrix-free
#: product (O(N d) terms summed per entry).
MINIBATCH_GMRES_RTOL = 1e-12

#: ... and gives up (raising) after this many restart cycles of MINIBATCH_GMRES_RESTART
#: Krylov vectors each; near the mean-square stability edge the iteration count grows like
#: 1 / (1 - rho(L)).
MINIBATCH_GMRES_MAXITER = 200
MINIBATCH_GMRES_RESTART = 60

#: Spectral radius of the second-moment map: the (2d)^2 x (2d)^2 matrix is formed and handed to
#: LAPACK when (2d)^2 <= this (d <= 8); above it ARPACK finds the Perron root matrix-free.
MINIBATCH_DENSE_MAX = 256

#: ARPACK's relative accuracy for that Perron root (the largest-modulus eigenvalue of a
#: positive map, which is real and isolated in modulus except at degenerate data).
MINIBATCH_ARPACK_RTOL = 1e-12

#: max_stable_lr: the root of rho(lr) = 1 is located to this relative accuracy in lr (brentq's
#: xtol = this * the deterministic limit); rho is computed to ~1e-12, so 1e-10 is reachable.
MINIBATCH_LR_RTOL = 1e-10

#: Exact reshuffling (recursion over subsets of the data): refuse above this many floating-point
#: operations (~1 minute of one core), with a message pointing to the additive idealisation.
MINIBATCH_SUBSET_MAX_FLOPS = 2e10

#: Lanczos quadrature (dynlab.traces): the recursion stops at an invariant subspace when the
#: new residual norm is <= LANCZOS_BREAKDOWN_RTOL * n * (largest ``|alpha|`` or beta so far). Full
#: reorthogonalization leaves residuals of O(eps ||H||) per step in exact-arithmetic breakdowns,
#: so a few eps times n separates "exhausted" from a genuine (if tiny) new direction.
LANCZOS_BREAKDOWN_RTOL = 4 * EPS

# --- numerics of the per-mode closed forms ---------------------------------------------------

#: The discrete recursion's characteristic polynomial r^2 - a r + beta has a double root when
#: Delta = a^2 - 4 beta vanishes. Computed in float64, Delta carries a rounding error of at most
#: eps (a^2 + 4 beta) / 2 (one product, one subtraction), so where
#: ``|Delta| <= DOUBLE_ROOT_RTOL (a^2 + 4 beta)`` its sign is noise and s_m takes its confluent
#: limit ``m (|a| / 2)^(m - 1)``. Both branches tend to that limit; the jump at the band's edge is
#: O(m^2 DOUBLE_ROOT_RTOL) relative, the size of s_m's own condition number times eps.
DOUBLE_ROOT_RTOL = 4.0 * EPS

#: ... and multiplies the batch matrices into the subset averages in chunks of at most this
#: many float64 entries (8 bytes each: 48 MB), bounding its memory.
MINIBATCH_SUBSET_CHUNK = 6_000_000

# --- stationary slope of the energy drift up to the stability limit (dynlab.energy_band) -----

#: Smallest omega dt of the drift-vs-dt grids: deep in the dt^(3/2) regime (the slope is
#: within 1e-3 of 3/2 there for gamma / omega >= 1e-3).
DT_GRID_LOW = 1e-2

#: The grids end at this fraction of the exact stability limit: closer, the stationary
#: covariance grows like 1 / (1 - spectral radius) and the step's noise response dominates.
STABILITY_EDGE_FRACTION = 0.999

#: Log-step of the centred difference d log(drift) / d log(dt). The drift is integrated to
#: GCHI2_RTOL = 1e-10 relative, so the difference's rounding is ~1e-10 / 1e-4 = 1e-6; its
#: truncation error is (1e-4)^2 / 6 times the third log-derivative (<1e-6 away from the limit).
SLOPE_LOG_STEP = 1e-4

#: Relative accuracy in dt of the negative band's edges and of the slope's minimiser
#: (root finding / bounded minimisation on the centred-difference slope).
BAND_EDGE_RTOL = 1e-6
