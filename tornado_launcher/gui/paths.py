"""Where the window finds files that ship with the launcher: see :mod:`tornado_launcher.assets`
(package data under ``tornado_launcher/resources/``, read with ``importlib.resources``)."""

from ..assets import demo_config, desktop_file, icon_file, resources_dir

__all__ = ["resources_dir", "demo_config", "icon_file", "desktop_file"]
