"""Validation runs: dynlab's predictions against simulation and a GPU-trained network.

Each ``python -m validation.<name>`` writes a ``report.md``, a ``results.json`` and figures (PNG
and PDF, with their plotted arrays where saved) to its output folder through
:mod:`validation.report`; every file carries the run's id (:mod:`validation.runs`).
"""
