"""The kernels: one connection to an IPython kernel and the ways one is provisioned.

(The map, ARCHITECTURE.md, names these modules; what follows is the detail it left here, so the
rewrite of this package keeps it in one place. Update it as the modules move.)

The modules:

* ``kernels/kernel_pipe.py``: ipykernel's subprocess pipe as the launcher meets it:
  ``boot_argv`` (a stock ``python -m ipykernel_launcher`` command line runs ``bridge/boot.py``
  instead), ``RejectedMessages`` (rejected pipe messages, stock lines or boot's, counted in the
  raw reader thread and reported once per ``INTERVAL`` under the kernel, logger
  ``ipykernel.pipe``).
* ``kernels/kernel.py``: one kernel: start (kernelspec or explicit interpreter), execute,
  iopub/shell routing (after each execute request it reads ``EVENTS`` through the asyncio shell
  socket: jupyter_client sends on a plain shadow of it, and a send can take the edge-triggered
  FD's wakeup for a reply that just arrived), comm events, death detection, shutdown. Also the
  session's private runtime directory (``make_runtime_dir``: 0700, ``launcher.pid`` names its
  owner by pid and start time; at each start, ``remove_stale_runtime_dirs`` removes this user's
  ``tl-*`` directories whose launcher is gone, so a SIGKILLed launcher's sockets do not pile up
  in /tmp).
* ``kernels/heartbeat.py``: ``HeartbeatWatch``, the part of ``Kernel`` that hears of missed
  heartbeats (jupyter_client's hb thread → the loop) and reports "not responding" / "responding
  again" as ``KernelState`` events; ``HEARTBEAT_PERIOD``, ``HEARTBEAT_MISSES``,
  ``HEARTBEAT_RECHECK``.
* ``kernels/attached.py``: ``AttachedKernel(Kernel)``: a kernel started elsewhere, reached
  through the kernel block's ``connection_file`` (see "Kernels beyond this machine"). Same
  routing and public surface as ``Kernel``; its own lifecycle (attach, heartbeat liveness,
  re-attach, left running at exit).
* ``kernels/gateway.py``: ``GatewayKernel(Kernel)``: a kernel started, restarted and shut down
  through a Jupyter Kernel Gateway's REST API, spoken to over its websocket (``gateway_url``;
  see "Kernels beyond this machine").
* ``kernels/streams.py``: ``StreamLines``, the part of ``Kernel`` that turns iopub ``stream``
  chunks into whole log lines (a line cut between chunks is joined, or shown alone after 0.3 s;
  ipykernel's rejected-pipe lines are counted, never shown).
* ``kernels/comms.py``: ``BridgeComms``, the part of ``Kernel`` that routes the bridge's comms
  other than its events (the tunnel's, the file push's) to their users (``comm_handlers``) and
  sends to them (``send_comm``).
* ``kernels/provisioning.py``: ``make_kernel(name, kernel_config, ...)``: the one place a
  ``kernel`` block becomes a kernel object (started here, attached, or behind a gateway) with
  its ``Tunnel`` when it has one.
* ``kernels/interpreter.py``: which Python a kernel runs (explicit ``python``, the launcher's
  own, or in the frozen app the project's venv / PATH), checked for ipykernel + tornado;
  ``child_env()`` undoes PyInstaller's environment.

Faults (issue 13):

* Every cell ``Kernel.execute`` sends goes with ``stop_on_error=False`` (user code blocks
  included): a block that raises cannot make ipykernel abort the restart queued behind it. An
  ``aborted`` reply (a cell someone else sent with the default raised before ours) is logged
  with that reason.
* A silent kernel (SIGSTOP, a wedged process): jupyter_client's heartbeat channel pings every 1
  s (answered by ipykernel's zmq thread, whatever its Python does); ``Kernel`` hooks its
  ``call_handlers`` (called on each missed ping, from its thread). A stopped process (``T`` in
  ``/proc/pid/stat``) is ``not responding`` at the first miss, another at the second
  (``HEARTBEAT_MISSES``); while silent, ``is_beating()`` is looked at every 0.5 s until it
  answers. ``Kernel.state`` stays idle/busy (cells queue as before); the ``KernelState`` event
  and ``KernelInfo.state`` read ``not responding``, and so do its live apps. A monitor thread
  that itself did not run for 2 s (the process was stopped) does not report its loops as blocked.

Kernels beyond this machine (``kernels/attached.py``, ``kernels/gateway.py``): a kernel block
has exactly one of: nothing / ``kernel_name`` / ``python`` (a local kernel, ``kernel.Kernel``),
``connection_file`` (``attached.AttachedKernel``) or ``gateway_url``
(``gateway.GatewayKernel``). ``config/remote.py`` (the kernel block's remote keys, beside
``validate.py``'s ``BlockReader``) resolves ``connection_file`` against the config's directory
and ``check`` requires it to exist and parse (``remote.connection_problem``: JSON with ``ip``,
the five ports and ``key``; transport tcp or ipc); ``cli``'s interpreter check skips it (the
bridge's install checks the far side). The session picks the class in ``_kernel_for``; nothing
else in the session, controllers or reload knows the difference, except two words: a kernel with
``reattaches = True`` whose ``start()`` fails is waited for (the session spawns its
``restart()``), and its death is logged as "attaching again".

* Attach: an ``AsyncKernelClient`` on the file's ports and key, re-read at each attempt
  (ipykernel run again with ``-f`` over a file it wrote itself picks new ports),
  ``wait_for_ready(startup_timeout)``.
* Liveness: jupyter_client's heartbeat thread (one ping a second) calls ``call_handlers`` on a
  missed ping; our subclass hands it to the loop, which looks again ``HEARTBEAT_GRACE`` (2.5 s)
  later: still silent → ``dead`` ("stopped answering its heartbeat"), pending cells answered
  ``KernelDied``, the session's ``on_death`` (apps failed, crash-loop guard counts it). Seen in
  ~3.5 s. A kernel run again on the same ports faster than that is told by its session id (every
  message's header ``session``, a new uuid per ipykernel process, learnt from a
  ``kernel_info_reply`` at attach): a message from another session on shell or iopub is a death
  (a new process, no bridge). A new process may send nothing by itself (its iopub ``starting``
  is often lost while the SUB socket reconnects), so a ``kernel_info_request`` is sent when the
  shell socket connects again (a zmq socket monitor, ``EVENT_CONNECTED``) and after every missed
  heartbeat; its reply says who answers.
* Back: ``restart()`` is a re-attach. Nothing tells us a process elsewhere came back, so here,
  and only here, the launcher tries again every ``REATTACH_INTERVAL`` (2 s), saying why once,
  until it answers or the session shuts down; then the session installs the bridge and
  re-creates the apps.
* Ownership: never ended by us. ``shutdown()`` drops the channels after the session's farewell
  stopped the apps (state ``stopped``, "left running at ..."); ``kill_now()`` only drops the
  connection; ``interrupt()`` sends ``interrupt_request`` on the control channel (ipykernel
  signals itself).
* ``pid`` comes from the bridge's ``hello`` (the process on its machine).

Gateway kernels (``kernels/gateway.py``): ``gateway_url`` (http/https, checked by
``remote.gateway``), ``kernel_name`` a kernelspec *on the gateway* (not looked up here),
``gateway_token`` sent as ``Authorization: token ...`` (write ``"${KG_AUTH_TOKEN}"``:
interpolation reads the environment). Built on tornado's ``AsyncHTTPClient`` /
``websocket_connect``, no other dependency.
* start: ``POST /api/kernels {"name", "env"}`` → id (``env`` as Jupyter's own gateway client
  builds it: the launcher's ``KERNEL_*`` variables, ``KERNEL_USERNAME`` = ``kernel_username`` or
  the local user, ``KERNEL_WORKING_DIR`` = ``remote_dir``, ``KERNEL_LAUNCH_TIMEOUT``, the
  block's ``env`` last); the POST and the first answer on the websocket share
  ``gateway_launch_timeout`` (``_launch``, a progress line every 10 s: Enterprise Gateway blocks
  the POST until a pod runs). A refusal carries the gateway's own words (``gateway_reason``:
  ``message``/``reason``, else a traceback's last line) and the key that fixes it; then
  websocket ``/api/kernels/{id}/channels`` in the legacy JSON protocol (no subprotocol asked:
  one JSON text per message, with a ``channel`` field); ready when a ``kernel_info_request`` on
  shell is answered. ``_Channels`` plays the ``AsyncKernelClient`` for the shared routing
  (``execute``, ``stop_channels``); shell replies resolve ``_pending``, iopub goes to
  ``Kernel._handle``.
* liveness: the gateway watches its kernel (jupyter_server's restarter) and sends ``status:
  restarting`` (it restarted a dead kernel: our bridge is gone) or ``status: dead`` on iopub
  without a parent: that is the death we report. A closed websocket is one too; tornado pings it
  every 5 s, so a gateway that hangs closes it within 15 s.
* restart: after the gateway's own restart only a new websocket; on the user's request ``POST
  .../restart``; a kernel the gateway lost (404) is created again; an unreachable gateway is
  tried every 2 s (the same accepted poll as for attached kernels). interrupt: ``POST
  .../interrupt``.
* ownership: ours. ``shutdown()`` sends ``DELETE /api/kernels/{id}``; ``kill_now()``
  (synchronous) sends it from a daemon thread without waiting.
* Tests: ``tests/integration/test_gateway.py`` runs a real ``jupyter kernelgateway`` (module
  fixture, token required, ``list_kernels=True``); ``test_enterprise_gateway.py`` a real
  Enterprise Gateway 3.3 from its own virtualenv (``tests/cached_venv.py``: built once per
  machine, keyed by its requirements, reused by later runs and CI on the same machine).

Attached and gateway kernels have no raw stdout/stderr reader: ipykernel's lines about rejected
pipe messages are counted on iopub (``streams.py``) instead.

URLs of a remote kernel's apps: the bridge's state record also carries ``public_ports`` (the
ports of its URLs bound beyond loopback, ``Servers.public_ports``). A kernel with a
``remote_host`` (attached: the connection file's tcp ``ip`` unless loopback/wildcard; gateway:
the URL's host) shows those URLs with that host (``kernel.remote_urls``) and logs once per app
and port that a loopback-only one is reachable only there (an ``ssh -L`` line, or listen on
0.0.0.0). A loopback ``remote_host`` (a tunnel, forwarded container ports) leaves URLs as the
bridge says.

Cells and a second client (the console): after a cell sent with ``stop_on_error`` fails
(qtconsole's do), ipykernel aborts every execute request already queued, whoever sent it.
``Kernel.execute`` therefore sends the launcher's cells with ``stop_on_error=False`` (ours never
abort the console's) and sends an ``aborted`` one again (it never ran; up to
``ABORTED_RETRIES``); ``kernel.describe_error(reply)`` is the one wording of a failed reply
(never "None: None"). ``Kernel._handle`` drops stream/error/result messages whose parent is
another client's session, so the console shows what is typed there and the launcher's logs do
not repeat it; the console attaches to ``Kernel.connection_file`` only while the kernel is up.

Shutdown: jupyter_client's ``shutdown_kernel()`` sends SIGINT first, then a shutdown request,
waits ``shutdown_wait_time / 2``, sends SIGTERM, waits again, then SIGKILLs the process group
(SIGKILL also ends a SIGSTOPped kernel). Its default 5 s plus the session's former 7 s app stop
gave the measured 9.8 s (hung loop) and 12.9 s (stopped kernel) Ctrl+C; now 2.8 s and 3.7 s
(``kernel.SHUTDOWN_TIMEOUT``, see ``engine/``).
"""
