"""Which kernel a ``kernel`` block makes, and what rides on it.

:func:`make_kernel` is the one place that maps a :class:`~tornado_launcher.config.KernelConfig`
to a kernel object: started here (:class:`~tornado_launcher.kernels.kernel.Kernel`, a kernelspec or an
interpreter), attached by connection file (:class:`~tornado_launcher.kernels.attached.AttachedKernel`)
or launched by a gateway (:class:`~tornado_launcher.kernels.gateway.GatewayKernel`), with a
:class:`~tornado_launcher.remote.tunnel.Tunnel` when its apps are reached through its connection
and a :class:`~tornado_launcher.remote.sync.FileSync` when the project is pushed to it.
"""

from __future__ import annotations

from typing import Any

from ..config import KernelConfig
from .kernel import Kernel


def make_kernel(name: str, kc: KernelConfig, **common: Any) -> Kernel:
    """The kernel object for block ``kc``; ``common`` are the arguments every kernel takes."""
    common["env"] = kc.env
    if kc.connection_file:
        from .attached import AttachedKernel

        k: Kernel = AttachedKernel(name, connection_file=kc.connection_file, **common)
    elif kc.gateway_url:
        from .gateway import GatewayKernel

        k = GatewayKernel(name, gateway_url=kc.gateway_url, gateway_token=kc.gateway_token,
                          kernel_name=kc.kernel_name, kernel_username=kc.kernel_username,
                          launch_timeout=kc.gateway_launch_timeout, remote_dir=kc.remote_dir, **common)
    else:
        k = Kernel(name, kernel_name=kc.kernel_name, python=kc.python, **common)
    if kc.tunnel:
        from ..remote.tunnel import Tunnel

        k.tunnel = Tunnel(k)
    if kc.sync:
        from ..remote.sync import FileSync

        k.sync = FileSync(k, common["cwd"])
    return k
