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
#: > STABILITY_RTOL * ||A||_2. Closer to the imaginary axis the stationary covariance is
#: not resolvable in float64 (its norm grows like 1 / min Re(lambda)).
STABILITY_RTOL = 1e-12

#: The Lyapunov solution B counts as singular (the process is not controllable) when its
#: 2-norm condition number exceeds 1 / SINGULAR_RTOL.
SINGULAR_RTOL = 1e-12

#: Sigma counts as commuting with H (seed 003 Assumption 3) when
#: ||H Sigma - Sigma H||_max <= COMMUTE_RTOL * ||H||_2 ||Sigma||_2.
COMMUTE_RTOL = 1e-10
