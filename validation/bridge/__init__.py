"""Helpers of ``python -m validation.resnet_bridge`` (the only part of the project using torch).

Torch-free (``--help``, option validation and the report half run without torch):

* :mod:`.settings` -- presets, profiles, the phases of each experiment, option validation;
* :mod:`.config` -- every threshold of the bridge, with its reason;
* :mod:`.records` -- named fields of the per-step records;
* :mod:`.analysis` -- host-side estimates with standard errors, predictions through :mod:`dynlab`;
* :mod:`.experiments` -- the staged report, written into a fresh folder and swapped in;
* :mod:`.sections_run`, :mod:`.sections_modes`, :mod:`.sections_seeds` -- its sections.

With torch, one module per job:

* :mod:`.data` -- CIFAR-10 readers (python batches, ImageFolder, the JPEG ``.npz`` pack) and the
  device-resident dataset with on-device augmentation;
* :mod:`.model` -- the CIFAR ResNet-18, its symmetry groups, other checkpoint layouts;
* :mod:`.flat` -- all parameters (and gradients) as views into one flat vector, the heavy-ball
  step, train-mode BatchNorm with frozen running statistics;
* :mod:`.train` -- pretraining, evaluation and the instrumented resumed training run;
* :mod:`.eigen` -- top-k eigenpairs of a symmetric operator by Lanczos, with explicit residuals;
* :mod:`.hessian` -- the fixed-subset loss: Hessian-vector products, eigenpairs, loss surfaces;
* :mod:`.noise` -- minibatch gradients: noise projections, traces and quadrature probes;
* :mod:`.energy` -- seed 000: damped leapfrog with mass preconditioning, drift, reversibility;
* :mod:`.conservation` -- seed 001: the scale and translation charges, measured;
* :mod:`.checkpoint` -- checksummed atomic checkpoints and the resumable state folder;
* :mod:`.pipeline` -- the phases in order, resumable;
* :mod:`.run` -- data, state and phases of one invocation, with the staged report.
"""
