"""Helpers shared by the tests: real processes, Prometheus binaries, settings, the token."""
