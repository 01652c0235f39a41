"""Checks of our own, loaded by `checkov --external-checks-dir tests/infra/checkov_checks`."""
