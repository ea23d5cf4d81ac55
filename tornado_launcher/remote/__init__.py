"""Kernels on another machine: the project pushed to them, their apps tunnelled back."""
