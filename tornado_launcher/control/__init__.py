"""The control socket: a running launcher driven from outside, and its client."""
