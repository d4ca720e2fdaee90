"""Validation runs: dynlab's predictions against simulation and a GPU-trained network.

Each ``python -m validation.<name>`` writes a ``report.md``, a ``results.json`` and PNG figures
to its output folder through :mod:`validation.report`.
"""
