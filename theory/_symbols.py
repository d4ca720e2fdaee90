"""The symbols every derivation shares, in the notation of docs/conventions.md.

lr = eta, momentum = beta, weight_decay = lambda, batch_size = S; rho is an eigenvalue of the
Hessian H and s = q^T Sigma q the per-sample gradient-noise variance along its eigenvector q.
Assumptions are the domains the seeds use (0 <= beta < 1 is imposed where a result needs it).
"""

import sympy as sp

lr = sp.Symbol("eta", positive=True)
momentum = sp.Symbol("beta", nonnegative=True)
weight_decay = sp.Symbol("lambda", nonnegative=True)
batch_size = sp.Symbol("S", positive=True)
rho = sp.Symbol("rho", positive=True)
s = sp.Symbol("s", positive=True)
t = sp.Symbol("t", nonnegative=True)

#: 0 <= beta < 1 as a substitution: beta = u / (1 + u) with u >= 0, so that sympy's sign
#: reasoning (``is_positive``) sees 1 - beta = 1 / (1 + u) > 0 and 1 + beta > 0.
u_momentum = sp.Symbol("u", nonnegative=True)
momentum_below_one = {momentum: u_momentum / (1 + u_momentum)}
