"""sympy derivations that check dynlab, one module per derivation.

Each module derives its results from the model's definition (the optimizer's update, the noise
model, the symmetry's group action), exports them as sympy expressions (``derive()``) and as
numpy functions that the tests compare with dynlab, and lists what it verified (``verify()``).
``python -m theory`` runs every ``verify()`` and prints a table; see docs/theory.md.
"""

#: The derivation modules, in the order ``python -m theory`` runs them (later ones reuse earlier).
MODULES = (
    "sgd_sde",
    "ou_mode",
    "oscillator",
    "diffusion",
    "discrete",
    "equipartition",
    "leapfrog",
    "energy_drift",
    "neural_mechanics",
    "minibatch",
)
