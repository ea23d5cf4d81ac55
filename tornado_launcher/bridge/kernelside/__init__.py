"""The in-kernel half of tornado-launcher: runs Tornado apps inside an IPython kernel.

These modules are sent into a kernel as source text by the install cell
(``tornado_launcher.bridge.install_cells``) and executed there, in the order of
:data:`MODULES`, as submodules of the package ``tornado_launcher_bridge``:
``tornado_launcher_bridge.protocol`` (the launcher's ``bridge/protocol.py``),
``tornado_launcher_bridge.kernelside``, ``tornado_launcher_bridge.kernelside.records``
and so on.  They import each other relatively, so the same text also imports
in the launcher as ``tornado_launcher.bridge.kernelside`` (a standalone copy,
for tests and for ``from tornado_launcher.bridge import TornadoBridgeApp``
outside a kernel).

They import only the standard library and tornado at module level (the
kernel's Python may not have tornado-launcher installed: the frozen app's
case), and never the launcher.  ``comm`` (ipykernel's) is imported inside
``api.install``.

Layering (each module imports only those above it):

``state``        the kernel-wide state: the kernel's loop and thread, settings, app registry, current run
``records``      records out: the queue and the sender thread on the comm
``tunnel``       TCP connections to apps relayed on a comm of their own (kernels on another machine)
``files``        the project's files written in the kernel's project directory, pushed on a comm (``sync``)
``zmqctx``       zmq contexts an app made, destroyed when its run ends (as its process's exit would)
``hang``         a monitor thread that notices a blocked loop and where it is stuck; Interrupt there
``attribution``  which app a log record or printed line belongs to; the logging handler, stream proxies
``servers``      the servers and listening sockets one run of an app opened; the socket pool
``drain``        closing listening sockets without losing the backlog; draining accepted connections
``options``      ``tornado.options`` per app: each app's own options and values, routed by its scope
``appprocess``   what an app owns as a process, per app: signals, atexit, exits, traitlets singletons, one process
``patches``      what the bridge patches in tornado, asyncio, logging and threading, and the originals (``Patches``)
``graph``        the project's import graph, compiled code by content, what a change invalidates
``imports``      fresh-source imports of the project; purging modules; dotted-path imports
``ports``        who holds a port: the sentence for "Address already in use"
``live``         browser live reload: the script in HTML pages, its event stream, one hub per app name
``children``     child processes are the app's: tracked per run, stopped with it, a guard for the kernel's death
``listeners``    asyncio servers (``start_server``, ``create_server``) of a run: pooled sockets, closed at its end
``process_state`` process-wide state a run changed (logging, warnings, excepthooks, sys.path, os.environ): undone
``leftovers``    the hooks where a run begins and ends: listeners closed, children stopped, state undone
``run``          one start of one app: its servers, loop, thread, context
``entry``        how a run enters the user's code: the contract class; ``Entry`` (main, script, Application)
``mainthread``   shared mode: an app's synchronous main (a contract app's start()) on its own thread, in lockstep
``appstop``      how an app's main blocks and how it ends: the blocking calls, stop as a SIGTERM, exits
``scope``        ``AppScope``: one start of an app from its own entry point, what it started, how it ended
``assets``       an app's template and static directories; forgetting Tornado's caches of them
``apps``         what every bridge app shares (``BridgeApp``), ``WatchdogApp``
``filewatch``    files watched in the kernel (``remote_files``): watchdog, else a scan; compile check; ``files`` records
``hotpatch``     hot patch, the analysis: can a saved module be applied to its live objects (a plan), or why not
``patching``     hot patch, the application: the plans of a save, applied while every app loop is paused
``tornado_app``  ``TornadoBridgeApp``: command queue, shared start, threaded start, stop
``api``          what the launcher's cells call: ``install``, ``create_app_from_json``, ...

Thread-safety: the public app methods (``start``, ``stop``, ``restart``,
``handle_watchdog_event``, ``set_threaded``) may be called from any thread;
they hand the work to the kernel's event loop and return at once.  All app
state changes happen on the kernel's loop thread.
"""

#: the modules shipped into the kernel, in execution order, relative to
#: ``tornado_launcher/bridge/`` ("protocol" first; this package's own
#: ``__init__`` next)
MODULES = ("protocol", "kernelside", "kernelside.state", "kernelside.records", "kernelside.zmqctx",
           "kernelside.tunnel", "kernelside.files", "kernelside.hang",
           "kernelside.attribution", "kernelside.servers", "kernelside.drain", "kernelside.options",
           "kernelside.appprocess", "kernelside.patches", "kernelside.graph", "kernelside.imports",
           "kernelside.ports", "kernelside.live", "kernelside.children", "kernelside.listeners",
           "kernelside.process_state", "kernelside.leftovers", "kernelside.run", "kernelside.entry",
           "kernelside.mainthread", "kernelside.appstop", "kernelside.scope", "kernelside.assets", "kernelside.apps",
           "kernelside.filewatch", "kernelside.hotpatch", "kernelside.patching",
           "kernelside.tornado_app", "kernelside.api")
