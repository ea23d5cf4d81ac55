"""No config to write first: apps detected from their source, `run`, `init`."""
