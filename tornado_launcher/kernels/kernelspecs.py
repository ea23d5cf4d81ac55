"""Jupyter kernelspecs as the launcher uses them: which names exist, and the spec it makes itself.

A kernel block's ``kernel_name`` is a Jupyter kernelspec installed here (looked up by
jupyter_client's ``KernelSpecManager``), except in the frozen app, where "python3"/"python" mean
the project's Python (:func:`uses_kernelspec`). :func:`installed_kernelspecs` is what the config's
``kernelspecs=`` check wants, so that ``check``, ``start`` and the window refuse an unknown name
before starting; :func:`missing_kernelspec` is the sentence when one is gone at start.
A kernel that must run a given interpreter gets a spec of its own through
:class:`FixedSpecManager` (:mod:`.local`).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel

from . import interpreter


def uses_kernelspec(kernel_name: Optional[str]) -> bool:
    """Whether a kernel block's ``kernel_name`` is looked up as a Jupyter kernelspec
    (the frozen app runs "python3"/"python" with the project's Python instead)."""
    return bool(kernel_name) and not (interpreter.is_frozen() and kernel_name in ("python3", "python"))


def installed_kernelspecs() -> List[str]:
    """The names a ``kernel_name`` may use here: what config's ``kernelspecs=`` wants,
    so that ``check``, ``start`` and the window refuse an unknown one before starting."""
    names = list(KernelSpecManager().find_kernel_specs())
    if interpreter.is_frozen():
        names += ["python3", "python"]
    return names


def missing_kernelspec(kernel: str, kernel_name: str) -> Optional[str]:
    """None when kernelspec ``kernel_name`` is installed, else the sentence for kernel ``kernel``."""
    try:
        KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        names = ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
        return (f"kernel {kernel!r}: no Jupyter kernelspec named {kernel_name!r} "
                f"(installed: {names}). Install it, or give the kernel block "
                f"`python = \"/path/to/python\"` instead.")
    return None


class FixedSpecManager(KernelSpecManager):
    """A kernelspec manager that knows exactly one spec: ours.

    Used when the kernel must run a given interpreter (the config's
    ``python``, the project's venv, or the launcher's own Python) rather than
    a kernelspec installed in the user's Jupyter paths.
    """

    def __init__(self, spec: KernelSpec, **kw: Any) -> None:
        super().__init__(**kw)
        self._spec = spec

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:  # noqa: D401
        return self._spec

    def find_kernel_specs(self) -> Dict[str, str]:
        return {}
