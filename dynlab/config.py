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

#: The Lyapunov solution B counts as singular (the process is not controllable) when its
#: 2-norm condition number exceeds 1 / SINGULAR_RTOL.
SINGULAR_RTOL = 1e-12

#: Generic Lyapunov solver (dynlab._lyapunov): triangular systems up to this order go to LAPACK's
#: dtrsyl directly (scipy's path, so equal to scipy there); larger ones are split recursively into
#: halves joined by matrix products (level-3 BLAS). ``python benchmarks/performance.py --block``
#: scans it: single-threaded BLAS, 2 shared cores, scipy / dynlab time with blocks 32, 64, 128 was
#: 0.76-1.47x (noise around 1: the same dtrsyl call) for n <= 64, 1.04-1.21x at n = 128,
#: 2.2-2.3x at n = 256 and 2.4-2.5x at n = 512; no block size stood out, 64 sits in the middle.
LYAPUNOV_BLOCK = 64

#: Sigma counts as commuting with H (seed 003 Assumption 3) when
#: ||H Sigma - Sigma H||_max <= COMMUTE_RTOL * ||H||_2 ||Sigma||_2.
COMMUTE_RTOL = 1e-10

#: Integrator zoo, ``run(layout="auto")``: with d >= INTEGRATOR_BLAS_MIN_DIM all paths step
#: together and the products over paths (H theta, noise factors) are one BLAS GEMM per step;
#: below it each thread advances its own paths with loops, never synchronising within a chunk.
#: ``python benchmarks/integrators.py --crossover`` (M = 256, 2 cores, other jobs running):
#: loops won up to d = 256 (3x there: multi-threaded BLAS stalls when the cores are shared),
#: GEMMs from d = 512 (2.6x); on an idle machine GEMMs win earlier, by < 2x below 512.
INTEGRATOR_BLAS_MIN_DIM = 512

#: Energy cap of seed 000 eq. 7: the guard epsilon in max(eps, alpha H0 - L) and max(eps, K).
#: An absolute value, as in the paper (energies in nats), used only against division by zero.
ENERGY_CAP_EPS = 1e-12

#: Implicit midpoint rule: the fixed-point iteration for the midpoint stops when every path's
#: update is <= IMPLICIT_RTOL * (its largest |component|). The iteration stalls at a few eps
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
#: is integrated; the median of |Delta H| is then found to the same relative accuracy.
GCHI2_RTOL = 1e-10
