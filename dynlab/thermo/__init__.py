r"""Ideal-gas thermodynamics of SGD with weight decay on scale-invariant functions.

Sadrtdinov et al. 2025, arXiv:2511.07308, §3 "Thermodynamic framework" and §5 "Isotropic
noise model experiments", describe the stationary law of SGD with weight decay on a
scale-invariant loss :math:`L(w) = L(w / \|w\|)` by a radius :math:`r = \|w\|` and a direction
:math:`\bar w = w / r`. Every formula below is derived in docs/thermo.md from that setup (the
isotropic noise model and three protocols), not transcribed from the paper's equations.

The package has one module per job: :mod:`~dynlab.thermo.process` (the process and its
state variables), :mod:`~dynlab.thermo.gibbs` (the exact Gibbs law of the linear toy loss and
the entropy estimator) and :mod:`~dynlab.thermo.ensemble` (numba ensembles of the discrete
protocols).

**Isotropic noise model.** The minibatch gradient at w is
:math:`\hat g(w) = \nabla L(w) + \frac{\sigma}{r} P_w \xi`, :math:`\xi \sim N(0, I_d)`,
:math:`P_w = I - \bar w\bar w^\top`: tangent to the sphere (like every gradient of a
scale-invariant function) and scaling as 1/r (like :math:`\nabla L(w) = \nabla L(\bar w)/r`).

**Protocols** (``lr`` below is :math:`\eta`, ``effective_lr`` :math:`\tilde\eta = \eta / r^2`):

* ``"sphere"``: :math:`w' = w - \tilde\eta r^2 \hat g(w)`, then :math:`w \leftarrow r\,w'/\|w'\|`
  (fixed radius r);
* ``"elr"``: :math:`w' = w - \tilde\eta \|w\|^2 (\hat g(w) + \lambda w)` (fixed effective lr);
* ``"lr"``: :math:`w' = w - \eta (\hat g(w) + \lambda w)` (plain SGD with weight decay).

**Stationary state** (SDE limit, time :math:`\tilde\eta k`): the direction follows Langevin
dynamics on the unit sphere at temperature :math:`T = \tilde\eta \sigma^2 / 2`, with the Gibbs law
:math:`\rho(\bar w) \propto e^{-L(\bar w)/T}`; the radius obeys
:math:`d r^2/dk = -2\eta\lambda r^2 + \eta^2\sigma^2 (d-1)/r^2` (+ O(lr^2)), so

* ``"sphere"``: :math:`T = \tilde\eta\sigma^2/2`, r given, pressure :math:`p = (d-1)T/r^2`
  (the outward push per unit time that the constraint absorbs);
* ``"elr"``: :math:`T = \tilde\eta\sigma^2/2`, :math:`p = \lambda`, :math:`r_*^2 = (d-1)T/\lambda`;
* ``"lr"``: :math:`r_*^4 = (d-1)\eta\sigma^2/(2\lambda)`, :math:`T = \eta\sigma^2/(2 r_*^2)
  = \sqrt{\eta\lambda\sigma^2/(2(d-1))}`, :math:`p = \lambda`.

With volume :math:`V = r^2/2` all three obey the ideal-gas equation of state
:math:`pV = NT`, :math:`N = (d-1)/2`. The entropy of the weights is
:math:`S = S_{\bar w}(T) + (d-1)\log r = S_{\bar w}(T) + N \log(2V)`, the free energies are
:math:`F = U - TS` and :math:`G = F + pV` with :math:`U = E[L]`, and the Maxwell relations
:math:`(\partial S/\partial V)_T = (\partial p/\partial T)_V`,
:math:`(\partial S/\partial p)_T = -(\partial V/\partial T)_p` hold.

For the toy loss :math:`L(w) = h\langle\hat\mu, \bar w\rangle` the Gibbs law is a von Mises-Fisher
law (:class:`VonMisesFisherGibbs`): U, S and the law of :math:`t = \langle\hat\mu,\bar w\rangle`
are exact (Bessel functions); the "ideal gas" forms :math:`U \approx -h + NT`,
:math:`S_{\bar w} \approx N\log(2\pi e T/h)` are their low-temperature limits.
:func:`simulate` runs ensembles of the real discrete protocols (numba) to check all of it.
"""

from .ensemble import STATISTICS, ThermoRun, simulate
from .gibbs import VonMisesFisherGibbs, axial_sphere_entropy, sphere_log_area
from .process import PROTOCOLS, ScaleInvariantSGD

__all__ = [
    "PROTOCOLS",
    "STATISTICS",
    "ScaleInvariantSGD",
    "VonMisesFisherGibbs",
    "ThermoRun",
    "simulate",
    "axial_sphere_entropy",
    "sphere_log_area",
]
