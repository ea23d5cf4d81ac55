"""Which kernel a ``kernel`` block makes, and what rides on it.

:func:`make_kernel` is the one place that maps a :class:`~tornado_launcher.config.KernelConfig`
to a kernel: one :class:`~tornado_launcher.kernels.connection.KernelConnection` composed with the
provisioner the block asks for, a process started here
(:class:`~tornado_launcher.kernels.local.ProcessProvisioner`, a kernelspec or an interpreter), a
kernel attached by connection file (:class:`~tornado_launcher.kernels.attached.AttachedProvisioner`)
or one launched by a gateway (:class:`~tornado_launcher.kernels.gateway.GatewayProvisioner`); with a
:class:`~tornado_launcher.remote.tunnel.Tunnel` when its apps are reached through its connection
and a :class:`~tornado_launcher.remote.sync.FileSync` when the project is pushed to it.
"""

from __future__ import annotations

from typing import Callable

from ..config import KernelConfig
from ..engine.events import Event
from .connection import KernelConnection, Provisioner
from .local import ProcessProvisioner


def make_kernel(name: str, kc: KernelConfig, *, cwd: str, runtime_dir: str, on_event: Callable[[Event], None],
                on_death: Callable[[str], None], startup_timeout: float = 60.0) -> KernelConnection:
    """The kernel for block ``kc``, its apps' files in ``cwd``, a local process's in ``runtime_dir``;
    ``startup_timeout``: seconds a process started here, or an attached kernel, has to answer."""
    provisioner: Provisioner
    if kc.connection_file:
        from .attached import AttachedProvisioner

        provisioner = AttachedProvisioner(kc.connection_file, startup_timeout=startup_timeout)
    elif kc.gateway_url:
        from .gateway import GatewayProvisioner

        provisioner = GatewayProvisioner(kc.gateway_url, gateway_token=kc.gateway_token, kernel_name=kc.kernel_name,
                                         kernel_username=kc.kernel_username, launch_timeout=kc.gateway_launch_timeout,
                                         remote_dir=kc.remote_dir, env=kc.env)
    else:
        provisioner = ProcessProvisioner(cwd=cwd, runtime_dir=runtime_dir, kernel_name=kc.kernel_name,
                                         python=kc.python, env=kc.env, startup_timeout=startup_timeout)
    k = KernelConnection(name, provisioner, on_event=on_event, on_death=on_death)
    if kc.tunnel:
        from ..remote.tunnel import Tunnel

        k.tunnel = Tunnel(k)
    if kc.sync:
        from ..remote.sync import FileSync

        k.sync = FileSync(k, cwd)
    return k
