"""Test apps for the bridge tests (copied into a temporary project)."""
