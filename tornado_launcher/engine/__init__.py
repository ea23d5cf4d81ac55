"""The engine: the session, its controllers, the reloader, and the events they emit.

(The map, ARCHITECTURE.md, names these modules; what follows is the detail it left here, so the
rewrite of this package keeps it in one place. Update it as the modules move.)

The modules:

* ``engine/process.py``: ``process`` and ``job`` blocks' runtime: ``/bin/sh -c`` in a process
  group led by a guard (a ``/bin/sh`` blocked reading a pipe only the launcher writes; on EOF it
  SIGKILLs its own group), optional pty, SIGTERM then SIGKILL, exit status as state, output
  lines as log records.
* ``engine/events.py``: the event dataclasses every view consumes. Plain data. ``AppStateName``
  / ``KernelStateName`` (and ``watching.watcher.ChangeKind``): ``WireStr`` enums whose members are the wire
  strings (``str()``, f-strings, JSON, hashing unchanged; ``tests/unit/test_states.py``);
  ``KERNEL_READY`` (idle or busy: it can run code).
* ``engine/session.py``: apps + kernels of one config: kernel lifecycle, config re-read, waiters
  for an app's next settled state; dispatches app actions to the controller of the app's kind;
  emits events. No Qt.
* ``engine/crashloop.py``: ``CrashLoopGuard``: a dead kernel is restarted (at most
  ``MAX_RESTARTS`` = 5 in ``RESTART_WINDOW`` = 60 s), past that it is *given up* and says so;
  ``restart_kernel`` (window, ``restart-kernel`` control command) or a start/restart of one of
  its apps (``KernelAppController._revive``) brings it back and forgets the count.
* ``engine/controllers.py``: one controller per app kind (``tornado``, ``watchdog``,
  ``process``, ``job``): the ``AppInfo`` a block makes, start/stop/restart/threaded, the bridge
  spec, what a config re-read does to it (``reconfigure``: in place when it can — a tornado
  app's ``threaded`` through ``set_threaded``'s hand-over and its ``logger`` through the bridge
  app's ``set_logger`` — else ``retire`` + ``bring_up``); the ``Process`` runtimes of
  process/job blocks (``ProcessTable``).
* ``engine/reload.py``: the session's auto-reload arm: WatchdogApp handlers (or the implicit
  ``*.py`` handler) → compile check → code blocks / restarts through a per-app SingleFlight;
  "serving old code" when a save does not compile. With the implicit handler, ``_Assets`` also
  watches each running app's ``template_path`` / ``static_path`` (from its "running" state,
  ``AppInfo.template_paths`` / ``static_paths``, one ``Watcher.add`` per directory): an edit
  there is a refresh (``bridge.refresh_assets_code``), never a restart. Uses only the session's
  public methods (and ``subscribe``).
* ``engine/api.py``: ``SessionAPI``: the Session's public surface as a ``typing.Protocol``, what
  views (and ``tests/gui``'s ``FakeSession``) are typed against; ``SessionCore``: what
  ``engine/controllers.py``, ``engine/reload.py`` and ``engine/crashloop.py`` use of the
  Session, their type for it (so none imports ``engine/session.py``, not even under
  ``TYPE_CHECKING``: ``test_house``).
* ``engine/status.py``: ``AppInfo`` / ``KernelInfo``: what the session knows and views show of
  each app and kernel (below the session, so its users name them without importing it);
  ``MAX_RESTARTS``.
* ``workers.py``: ``ensure_workers(loop)``: the launcher loop's default executor is a fixed pool
  of 4 threads, all started when headless ``start``/``run`` begins (asyncio's own starts them
  one by one as work overlaps and keeps them: the thread count crept up over a long run); the
  window keeps qasync's executor (its QThreads all start at once).

How an action travels: a click on Restart (or a save) → ``Session.restart_app("web")`` takes the
app's lock, registers a waiter for the app's next ``running``/``failed`` state, and runs the
cell ``bridge.call_code("web", "restart")`` in the app's kernel. The cell returns at once; the
bridge purges ``clear_cache``, starts the new run on the app's pooled listening sockets, stops
the old run once the new one serves (see "A restart never closes the port"), and sends a
``state`` record over the comm. ``KernelConnection`` turns it into an ``AppState`` event; the session
resolves the waiter and re-emits the event to the views. A kernel that dies is seen by a thread
blocked in ``Popen.wait()``: the session marks its apps failed, restarts it (at most 5 times in
60 s) and re-creates the apps that were wanted running.

Processes and jobs: they are ``AppInfo``s of kind ``process`` / ``job`` (kernel ``""``) in
``session.apps``, so views list them with the apps and the same start/stop/restart calls work.
Their logger rules are applied by the session; a handler's jobs log to the WatchdogApp that ran
them.

The Session's surface: for views (``api.SessionAPI``): ``Session(config, *, auto_reload=True,
settle_timeout=30.0, startup_timeout=60.0)``; ``subscribe(callback)``; ``await start()``,
``await shutdown()``; per app ``await start_app(name)``, ``stop_app``, ``restart_app``,
``set_threaded(name, flag)``, ``set_auto_reload(name, flag)``, ``await set_live_reload(name,
flag)``, and ``start_all`` / ``stop_all`` / ``restart_all``; per kernel
``restart_kernel(name)``, ``interrupt_kernel(name)``, ``execute(kernel, code)``; ``await
apply_config(new_config)`` (re-read: only what changed is restarted); ``log(...)``,
``emit(event)``, ``spawn(coro, what)``. ``session.apps[name]`` / ``session.kernels[name]``
(``AppInfo`` / ``KernelInfo``) expose the latest state.

Inside, the Session keeps the kernels, the ``AppInfo``s and the waiters, and hands every app
action to the controller of the app's kind (``engine/controllers.py``); there is no ``if kind ==
...`` in the session. The controllers and the ``Reloader`` act on the session only through a
small public interface, typed as ``api.SessionCore``, so neither imports the session:

* ``kernel(name) -> KernelConnection | None``, ``process(name) -> Process | None``, ``closing``;
* ``app_lock(name)``: one action at a time per app;
* ``wait_for_state(app, states) -> Future`` (register before running the code), ``settle(app,
  fut) -> AppState | None`` (``SETTLE_TIMEOUT``, a warning when it does not come), and both in
  one: ``run_and_settle(app, code, *, kernel=None, settle=("running", "failed"), what=None) ->
  (reply, AppState | None)``;
* ``app_state(info)``, ``publish(info)``; ``mark_stale(app, problem=None)`` /
  ``clear_stale(app)``; ``loop_blocked(app)`` / ``loop_blocked_during(app, since)`` (its loop or
  kernel does not answer) ("serving old code");
* ``receive(event)``: what kernels and processes report (updates the infos, resolves waiters,
  emits); ``run_job(name, *, log_as=None)``.

The Reloader owns the rule that tells which app a handler's code block restarts
(``_RESTART_CALL``). The top-level ``logger`` block's rules and a process's own are applied with
``bridge.protocol.LineFilter``, the same class the kernel side uses for an app's rules.

Limits are declared settings (jupyter_client style), each ending in a sentence, never a hang:
``startup_timeout`` (a kernel that never answers kernel_info is killed and its apps fail with
"did not answer within N s ... Run ``<argv>`` in a terminal"), ``settle_timeout`` (an app still
``starting``/``stopping`` N s after a command gets a warning in its log), ``MAX_RESTARTS`` in
``RESTART_WINDOW`` (the crash-loop guard). A kernel that exits before answering is not a death
for the guard: ``KernelConnection.start`` reports it with the process's last stderr line. A bridge install
that raises fails every app of that kernel with the error and the fix; the kernel stays up.
``tests/integration/test_failure_paths.py`` drives each with a purpose-built misbehaving kernel
(``problem_kernels/problemkernel.py`` behind kernelspecs in a private ``JUPYTER_PATH``) or app.

``shutdown()`` is bounded (``APP_STOP_TIMEOUT`` for apps to close their servers,
``kernel.SHUTDOWN_TIMEOUT`` as jupyter_client's ``shutdown_wait_time``, then SIGKILL;
``SHUTDOWN_PROCESS_TIMEOUT`` for processes), so the window's quit and ``start``'s Ctrl+C end
within 5 s with a hung or SIGSTOPped kernel; ``kill()`` SIGKILLs every kernel's and process's
group at once (``start``'s second Ctrl+C, and its ``SHUTDOWN_DEADLINE`` backstop).

Faults (issue 13):

* Every cell ``KernelConnection.execute`` sends goes with ``stop_on_error=False`` (user code blocks
  included): a block that raises cannot make ipykernel abort the restart queued behind it. An
  ``aborted`` reply (a cell someone else sent with the default raised before ours) is logged
  with that reason. Every reload that does not happen is logged in the app's log with its reason
  (``Reloader._not_reloaded``), and a block naming an app that does not run here (Jaffle's
  ``pytest.handle_watchdog_event``) says so.
* A blocked loop (``kernelside/hang.py``): the session marks the apps held up (``AppInfo.hung``;
  all apps of the kernel but those on their own loop, or the one threaded app): ``app_state()``
  shows them ``not responding`` (over running/starting/stopping, as ``stale``), their log reads
  ``not responding: the kernel's loop has been blocked for 2 s in proj/hang.py:18 in get. ...``
  then ``responding again after 6.0 s``; Interrupt reaches the blocked handler (``hang.py``). A
  save made meanwhile waits in the kernel's queue; the Reloader logs ``reload waited N s for the
  kernel's loop`` (``Session.loop_blocked(app)`` / ``loop_blocked_during(app, since)``).
* Changes during a start: the Reloader (watcher, auto-reload's first value) is made before any
  app starts, and a reload of an app still starting (or whose kernel is) waits for it to settle,
  then restarts it: an edit saved as the app finishes starting is served.

Launcher side of the per-app process model (issue 25.5): ``controllers.KernelSetups``:
``Session._start_kernel`` and ``_restart_kernel`` (a death's, the window's) mark the kernel's
setup under way; ``start_app``/``stop_app``/``restart_app`` wait for it, so ``restart APP`` sent
meanwhile acts on the new kernel's app instead of ``NameError``; the control client prints a
running app's reason when it has no URL.

Found while wiring entry points (issue 10):
``Session.start_all``/``stop_all`` run their apps' cells concurrently, and concurrent cells can
leave a kernel that no longer answers shell requests (seen on main with two contract apps too);
the session tests of issue 10 act one app at a time.

Files watched in the kernel (remote_files): ``remote_files = true`` (default: true for a
``gateway_url`` whose host is not loopback, false otherwise; only read with
``connection_file``/``gateway_url``) has its handlers watched *in the kernel*:
``reload.Reloader`` splits its handlers into local ones (its ``Watcher``) and those whose kernel
watches (``_watching_kernel``: the WatchdogApp's kernel; for the implicit handler, the one
kernel of all its apps). Once a kernel has the bridge (``Session._setup_kernel`` →
``Reloader.kernel_ready``, so also after a restart or re-attach) it gets
``bridge.watch_code(specs)``: root mapped to ``remote_dir`` (the project as the kernel sees it,
default the config's directory; also the bridge's ``project_dir``), the handler's patterns plus
the watcher's ``DEFAULT_IGNORES`` as data; ``kernelside/filewatch.py`` watches there, gathers
changes until 50 ms are quiet, compiles the changed ``.py`` files there and sends one ``files``
record per handler (``protocol.files_record``: handler index, changes, errors).
``KernelConnection.on_files`` hands it to the Reloader, which maps paths back and runs the same
``_handle`` as for its own watcher with the kernel's compile errors: views see the same
``ReloadEvent``s. ``ReloadEvent.elapsed_ms`` then starts when the launcher received the record
(the kernel's clock is not ours). Not done: template/static refresh (``_Assets``) for remote
kernels (their directories are watched locally only when they exist here).

A fact: ``setpgid`` can put a process only into a group of its own session: a guard started with
``start_new_session`` cannot host the command's group; ``process.py`` uses ``process_group=0``
(a group in the launcher's session).
"""
