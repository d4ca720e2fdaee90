"""Reusable hypothesis strategies for dynlab's and users' property tests (needs hypothesis)."""
