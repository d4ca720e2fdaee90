"""Helpers of ``python -m validation.linear_regression``, one job per module.

:mod:`.cifar` (loading CIFAR-10), :mod:`.problem` (the regression problems), :mod:`.predict`
(dynlab's predictions), :mod:`.simulate` (the zoo's ensembles), :mod:`.estimate` and
:mod:`.measure` (Monte Carlo estimates with standard errors), :mod:`.experiment` (the runs),
:mod:`.writeup` (report tables) and :mod:`.figures`.
"""
