"""A small Tornado project to try tornado-launcher on (see ../jaffle.hcl)."""
