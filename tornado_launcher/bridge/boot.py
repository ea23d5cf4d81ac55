# tornado-launcher's kernel: ipykernel_launcher with ipykernel's subprocess pipe kept private.
"""How the launcher starts the kernels it starts: ipykernel's own ``IPKernelApp``, but
ipykernel's pipe for output of forked subprocesses is not a loopback TCP port.

ipykernel 7's ``IPKernelApp.init_iopub`` always makes ``IOPubThread(..., pipe=True)``,
whose ``_setup_pipe_in`` binds a zmq PULL socket to a random ``tcp://127.0.0.1`` port
that any local user can connect to, and whose ``_handle_pipe_msg`` prints each message
without the pipe's key to the kernel's stderr (``Bad pipe message: %s [...]``, one line
each: a flood of them buried the apps' logs).  Here the IOPub thread is a subclass whose
pipe is an IPC socket next to the kernel's other sockets, in the launcher's private
runtime directory (mode 0700: only this user reaches it), so forked children's output
still reaches the kernel's clients, and rejected messages are counted and told once per
:data:`INTERVAL` in one line (:data:`REJECTED`), written straight to the kernel's own
stderr (which the launcher reads), never through the captured streams.

Run as ``python -c <this source> -f <connection file> [ipykernel args]`` (the kernel's
Python may not have tornado-launcher installed).  Where ipykernel lacks the methods
replaced here, or the transport is not IPC (Windows: TCP, and no ``fork``), the kernel
is ipykernel's as it comes.  Only the standard library, ipykernel and pyzmq (ipykernel's
own dependency) are imported, inside :func:`main`; the launcher imports this module for
its constants.
"""

import os
import sys
import time

#: what the kernel writes to its stderr about rejected pipe messages: ``<REJECTED> <count> <seconds>``
#: (seconds from the first to the last of them)
REJECTED = "tornado-launcher: pipe rejected"
#: seconds between two such lines at most
INTERVAL = 2.0
#: appended to the kernel's IPC prefix (``<runtime dir>/<kernel name>``): the pipe's socket file
PIPE_SUFFIX = "-pipe"


def main():
    # As ipykernel_launcher: the cwd leaves sys.path while ipykernel imports (its shell puts it back).
    if sys.path and (sys.path[0] == "" or os.path.abspath(sys.path[0]) == os.getcwd()):
        del sys.path[0]
    import importlib.util

    launcher = importlib.util.find_spec("ipykernel_launcher")
    if launcher is not None and launcher.origin and sys.argv and sys.argv[0] == "-c":
        sys.argv[0] = launcher.origin  # what user code sees as sys.argv[0], as under ipykernel_launcher
    from ipykernel import iostream, kernelapp

    replaced = ("_setup_pipe_in", "_setup_pipe_out", "_handle_pipe_msg", "_is_master_process")
    if not all(hasattr(iostream.IOPubThread, name) for name in replaced) \
            or not hasattr(kernelapp, "IOPubThread"):
        kernelapp.launch_new_instance()
        return
    raw_stderr = os.dup(2)  # the launcher's pipe, before ipykernel captures fd 2

    class PrivatePipeIOPubThread(iostream.IOPubThread):
        """ipykernel's IOPub thread with its subprocess pipe on ``address`` (IPC)."""

        address = None  # set by the app before the thread is made

        def _setup_pipe_in(self):
            import zmq
            from zmq.eventloop.zmqstream import ZMQStream

            self._rejected = 0
            self._pipe_uuid = os.urandom(16)
            pipe_in = self.socket.context.socket(zmq.PULL)
            pipe_in.linger = 0
            try:
                pipe_in.bind(self.address)
            except zmq.ZMQError as exc:
                os.write(raw_stderr, ("tornado-launcher: the kernel's subprocess pipe %s could not be opened "
                                      "(%s): output of forked processes is not shown\n"
                                      % (self.address, exc)).encode())
                self._pipe_flag = False
                pipe_in.close()
                return
            self._pipe_in = ZMQStream(pipe_in, self.io_loop)
            self._pipe_in.on_recv(self._handle_pipe_msg)

        def _setup_pipe_out(self):
            import zmq

            ctx = zmq.Context()  # a new one: this runs in a forked child
            pipe_out = ctx.socket(zmq.PUSH)
            pipe_out.linger = 3000  # as ipykernel's: 3 s for the send before it is dropped
            pipe_out.connect(self.address)
            return ctx, pipe_out

        def _handle_pipe_msg(self, msg):
            if not self._pipe_flag or not self._is_master_process():
                return
            if msg and msg[0] == self._pipe_uuid:
                self.send_multipart(msg[1:])
                return
            now = time.monotonic()
            if not self._rejected:
                self._rejected_first = now
                self.io_loop.call_later(INTERVAL, self._tell_rejected)
            self._rejected += 1
            self._rejected_last = now

        def _tell_rejected(self):
            count, self._rejected = self._rejected, 0
            try:
                os.write(raw_stderr, ("%s %d %.3f\n" % (REJECTED, count,
                                                        self._rejected_last - self._rejected_first)).encode())
            except OSError:
                pass

    class LauncherKernelApp(kernelapp.IPKernelApp):
        def init_iopub(self, context):
            if self.transport == "ipc":
                PrivatePipeIOPubThread.address = "ipc://%s%s" % (self.ip, PIPE_SUFFIX)
                kernelapp.IOPubThread = PrivatePipeIOPubThread  # what init_iopub makes
            super().init_iopub(context)

    LauncherKernelApp.launch_instance()


if __name__ == "__main__":
    main()
