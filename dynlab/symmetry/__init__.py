r"""Neural mechanics: symmetries of toy networks and their broken conservation laws.

Kunin et al. 2021, "Neural mechanics: symmetry and broken conservation laws in deep learning
dynamics", arXiv:2012.04728. A loss with a one-parameter symmetry
:math:`f(\psi(\theta, \alpha)) = f(\theta)` constrains its gradient and Hessian (ibid.,
"Symmetry and geometry"):

.. math:: \langle g, X(\theta)\rangle = 0, \qquad H X(\theta) + J_X(\theta)^\top g = 0,

with :math:`X = \partial_\alpha \psi|_{\alpha=0}` the generator. The paper's three symmetries
all have an *affine* generator :math:`X(\theta) = c + s \odot \theta` (:class:`Symmetry`):

===========  ===============================  ==========================  ====================
kind         action                           generator X                 charge Q (Noether)
===========  ===============================  ==========================  ====================
translation  theta_A + alpha 1 (softmax)      c = 1_A, s = 0              ``<theta_A, 1>``
scale        alpha theta_A (batchnorm)        c = 0, s = 1_A              ``|theta_A|^2``
rescale      (a theta_1, theta_2 / a) (ReLU)  c = 0, s = 1_{A1} - 1_{A2}  ``|theta_1|^2``
                                                                          ``- |theta_2|^2``
===========  ===============================  ==========================  ====================

Gradient flow conserves Q (ibid., "Symmetry and conservation laws"). Weight decay, momentum and
a finite learning rate break the law in ways that are solved here exactly (:func:`discrete_law`:
heavy-ball SGD step by step, exact to rounding given the measured drive) and in the paper's
continuous models (:func:`gradient_flow_law`, :func:`modified_flow_law`,
:func:`momentum_flow_law`: the driven damped oscillator). The "translation" charge is undriven;
the "scale" and "rescale" charges are driven by the squared gradient (SGD) or kinetic
(momentum) norms along the symmetry, which the laws take as measured input, as in the paper.

The package has one module per job: :mod:`~dynlab.symmetry.generators` (generators, charges,
constraint residuals), :mod:`~dynlab.symmetry.toys` (toy networks with each symmetry, minibatch
gradients and exact Hessian-vector products), :mod:`~dynlab.symmetry.training` (heavy-ball SGD
with weight decay on them, in the update of docs/conventions.md) and
:mod:`~dynlab.symmetry.laws` (the broken conservation laws). Every minibatch loss has the
symmetry, so the constraints hold for each minibatch gradient, not only on average.
"""

from .generators import KINDS, Symmetry
from .laws import discrete_law, gradient_flow_law, modified_flow_law, momentum_flow_law
from .toys import (
    BatchNormNet,
    ConstraintResiduals,
    SoftmaxRegression,
    ToyModel,
    TwoLayerNet,
    constraint_residuals,
)
from .training import Trajectory, simulate

__all__ = [
    "KINDS",
    "Symmetry",
    "ToyModel",
    "SoftmaxRegression",
    "BatchNormNet",
    "TwoLayerNet",
    "Trajectory",
    "simulate",
    "ConstraintResiduals",
    "constraint_residuals",
    "discrete_law",
    "gradient_flow_law",
    "modified_flow_law",
    "momentum_flow_law",
]
