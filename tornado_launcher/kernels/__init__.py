"""The kernels: one connection to an IPython kernel and the ways one is provisioned."""
