"""The kernels: one connection to an IPython kernel and the ways one is provisioned.

A kernel is a :class:`~.connection.KernelConnection` composed with a :class:`~.connection.Provisioner`,
as jupyter_client keeps its client apart from its ``KernelProvisionerBase``: the connection
(channels, routing, ``execute``, heartbeat, states, death, and the lifecycle every kind shares:
start preamble, restart retried until the kernel answers, shutdown, ``kill_now``) is written once;
a provisioner only starts or reaches its kernel, restarts, interrupts and stops or kills it. Each
module's docstring holds its design and the facts it rests on.

The modules:

* ``kernels/connection.py``: ``KernelConnection``, the one object the engine holds per kernel
  block; the ``Provisioner`` ABC; ``KernelStartError``; ``describe_error`` (the one wording of a
  failed execute reply).
* ``kernels/local.py``: ``ProcessProvisioner``, a kernel process started here through
  ``AsyncKernelManager`` (kernelspec or interpreter; IPC in the runtime directory; raw output
  readers; death from ``Popen.wait``; ``SHUTDOWN_TIMEOUT``).
* ``kernels/attached.py``: ``AttachedProvisioner``, a kernel started elsewhere, reached by its
  connection file (heartbeat liveness, identity by session id, re-attach, left running at exit).
* ``kernels/gateway.py``: ``GatewayProvisioner``, a kernel started, restarted and shut down
  through a Jupyter (Enterprise) Kernel Gateway's REST API, spoken to over its websocket.
* ``kernels/provisioning.py``: ``make_kernel``, the one place a ``kernel`` block becomes a kernel
  (its provisioner, its ``Tunnel`` and ``FileSync`` when it has them).
* ``kernels/heartbeat.py``, ``kernels/streams.py``, ``kernels/comms.py``: parts of the
  connection: missed heartbeats → "not responding"; iopub ``stream`` chunks → whole lines; the
  bridge's comms other than its events, routed to their users (the tunnel, the file push).
* ``kernels/kernelspecs.py``: which ``kernel_name`` is a kernelspec, the names installed, the spec
  of our own for a given interpreter.
* ``kernels/runtime_dir.py``: the session's private runtime directory (0700, owner named,
  stale ones removed).
* ``kernels/interpreter.py``: which Python a kernel runs (explicit ``python``, the launcher's
  own, or in the frozen app the project's venv / PATH), checked for ipykernel + tornado;
  ``child_env()`` undoes PyInstaller's environment.
* ``kernels/kernel_pipe.py``: ipykernel's subprocess pipe as the launcher meets it
  (``boot_argv``, ``RejectedMessages``).

Users of a kernel's channels beyond the bridge's events live in ``remote/`` (``tunnel.py``,
``sync.py``: comm handlers); the URLs of a remote kernel's apps are ``remote/urls.py``'s.

Which provisioner: a kernel block has exactly one of nothing / ``kernel_name`` / ``python`` (a
process here), ``connection_file`` (attached) or ``gateway_url`` (gateway). ``config/remote.py``
(the block's remote keys) resolves ``connection_file`` against the config's directory and
``check`` requires it to exist and parse (``remote.connection_problem``: JSON with ``ip``, the
five ports and ``key``; transport tcp or ipc); ``cli``'s interpreter check skips attached and
gateway kernels (the bridge's install checks the far side). The session knows the difference by
one property: a kernel that ``reattaches`` (attached, gateway: the provisioner has a
``retry_interval``) and whose ``start()`` fails is waited for (the session spawns its
``restart()``), and its death is logged as "attaching again".
"""
