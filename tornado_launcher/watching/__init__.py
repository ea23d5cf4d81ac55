"""Watching files: the project's tree, the config's files, one run at a time per key."""
