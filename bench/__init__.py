"""Benchmarks: scripts that measure and print figures. `make bench` runs them all."""
