"""Helpers of ``python -m validation.resnet_bridge`` (the only part of the project that needs torch).

One module per job:

* :mod:`.data` -- CIFAR-10 readers (python batches, ImageFolder, the JPEG ``.npz`` pack) and the
  device-resident dataset with on-device augmentation;
* :mod:`.model` -- the CIFAR ResNet-18 and its symmetry groups;
* :mod:`.flat` -- all parameters (and gradients) as views into one flat vector, the heavy-ball
  step, train-mode BatchNorm with frozen running statistics;
* :mod:`.train` -- pretraining, evaluation and the instrumented resumed training run;
* :mod:`.eigen` -- top-k eigenpairs of a symmetric operator by Lanczos, with explicit residuals;
* :mod:`.hessian` -- the fixed-subset training loss: Hessian-vector products, eigenpairs, loss surfaces;
* :mod:`.noise` -- gradient-noise structure ``q_i^T Sigma q_i`` from minibatch gradients;
* :mod:`.energy` -- seed 000: damped leapfrog with mass preconditioning, energy drift, reversibility;
* :mod:`.conservation` -- seed 001: broken conservation laws of the scale and translation symmetries;
* :mod:`.checkpoint` -- atomic checkpoints and the resumable state folder;
* :mod:`.pipeline` -- the phases in order, resumable;
* :mod:`.analysis` -- host-side estimates with standard errors, predictions through :mod:`dynlab`;
* :mod:`.experiments` -- the report's sections, tables and figures, one function per experiment.
"""
