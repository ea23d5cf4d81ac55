"""tornado-launcher: run Tornado apps inside IPython kernels and drive them.

The engine (config, session, kernel, watch) never imports Qt; the window lives
under :mod:`tornado_launcher.gui`.  See ARCHITECTURE.md for the map.
"""

__version__ = "0.1.0"
