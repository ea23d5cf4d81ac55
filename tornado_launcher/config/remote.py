"""The kernel block's keys for kernels beyond this machine: ``connection_file``
(attach to a running kernel), ``gateway_url`` / ``gateway_token`` (a Jupyter
Kernel Gateway), ``remote_files`` / ``remote_dir`` (files watched in the kernel).

Readers of the kernel block (``validate.BlockReader`` calls them), typed against the
:class:`~.fields.Fields` they use, kept apart so that reader stays one concept in size.  JSON only: config
imports no jupyter.
"""

from __future__ import annotations

import os
from typing import Optional

from .fields import Fields
from .model import MISSING, KernelConfig
from .text import show

#: what a kernel connection file must give (jupyter_client's ``write_connection_file`` writes them)
CONNECTION_KEYS = ("ip", "shell_port", "iopub_port", "stdin_port", "control_port", "hb_port", "key")


def connection_problem(path: str) -> Optional[str]:
    """Why ``path`` is not a usable kernel connection file, or None (JSON only: config imports no jupyter)."""
    import json

    if os.path.isdir(path):
        return "is a directory, not a connection file"
    try:
        with open(path, "rb") as f:
            info = json.loads(f.read(1 << 20).decode("utf-8"))
    except FileNotFoundError:
        return "does not exist"
    except OSError as e:
        return "cannot be read (%s)" % (e.strerror or e)
    except (ValueError, UnicodeDecodeError) as e:
        return "is not JSON (%s)" % e
    if not isinstance(info, dict):
        return "is not a kernel connection file (not a JSON object)"
    missing = [key for key in CONNECTION_KEYS if key not in info]
    if missing:
        return "is not a kernel connection file (it lacks %s)" % ", ".join(missing)
    if info.get("transport", "tcp") not in ("tcp", "ipc"):
        return "names the transport %s (tcp or ipc are known)" % show(info.get("transport"))
    return None



def remote(r: Fields, body: dict, path: tuple, k: KernelConfig) -> None:
    """``remote_files`` / ``remote_dir`` / ``tunnel``: a kernel elsewhere; implied for a gateway not on loopback."""
    from urllib.parse import urlsplit

    elsewhere = bool(k.connection_file or k.gateway_url)
    far = bool(k.gateway_url) and (urlsplit(k.gateway_url).hostname or "") not in (
        "127.0.0.1", "localhost", "::1")
    k.sync = r.boolean(body, path, "sync", False)
    k.remote_files = r.boolean(body, path, "remote_files", far and not k.sync)
    k.tunnel = r.boolean(body, path, "tunnel", far)
    if k.sync and k.remote_files:
        r.report.error(path + ("sync",), "`sync = true` pushes the project from this machine and watches it "
                       "here; `remote_files = true` watches files already on the kernel's machine: keep one")
    remote_dir = r.string(body, path, "remote_dir", '(e.g. "/srv/project")')
    if remote_dir is not MISSING and remote_dir:
        if not remote_dir.startswith("/"):
            r.report.error(path + ("remote_dir",),
                              "`remote_dir` %s must be an absolute path on the kernel's machine" % show(remote_dir),
                              "value")
        else:
            k.remote_dir = os.path.normpath(remote_dir)
    if "env" in body and k.connection_file:
        r.report.warn(path + ("env",), "`env` is not used with `connection_file`: the kernel was started "
                      "elsewhere, with the environment it was given there")
    for key in ("remote_files", "remote_dir", "tunnel", "sync"):
        if key in body and not elsewhere:
            r.report.warn(path + (key,), "`%s` is used only with `connection_file` or `gateway_url`: "
                             "a kernel the launcher starts here is on this machine" % key)
    if not elsewhere:
        k.tunnel = k.sync = False
    elif k.sync and not k.remote_dir:
        r.report.error(path + ("sync",), "`sync = true` needs `remote_dir`: where the project goes on the kernel's "
                       'machine, e.g. `remote_dir = "/home/me/project"`')

def gateway(r: Fields, body: dict, path: tuple, k: KernelConfig) -> None:
    """``gateway_url`` (+ ``gateway_token``): kernels started through a Jupyter Kernel Gateway."""
    from urllib.parse import urlsplit

    url = r.string(body, path, "gateway_url", '(e.g. "http://127.0.0.1:8888")')
    token = r.string(body, path, "gateway_token", '(e.g. "${KG_AUTH_TOKEN}")')
    if url is not MISSING and url:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError as e:
            parts, problem = None, str(e)
        else:
            problem = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname \
                or parts.query or parts.fragment:
            r.report.error(
                path + ("gateway_url",),
                "`gateway_url` %s is not an http(s) URL of a Kernel Gateway%s: write e.g. "
                '`gateway_url = "http://127.0.0.1:8888"`' % (show(url), " (%s)" % problem if problem else ""),
                "value",
            )
        else:
            k.gateway_url = url.rstrip("/")
        if "python" in body:
            r.report.error(
                path + ("python",),
                'kernel "%s" sets both `gateway_url` and `python`: the gateway chooses the interpreter '
                "(name its kernelspec with `kernel_name`)" % k.name,
            )
    if token is not MISSING and token:
        if not (url is not MISSING and url):
            r.report.warn(path + ("gateway_token",),
                             "`gateway_token` is used only with `gateway_url`: remove it, or add `gateway_url`")
        k.gateway_token = token
    launch(r, body, path, k, bool(url is not MISSING and url))


def launch(r: Fields, body: dict, path: tuple, k: KernelConfig, gateway: bool) -> None:
    """What a gateway launch carries: ``kernel_username``, ``gateway_launch_timeout``, ``env``."""
    user = r.string(body, path, "kernel_username", '(e.g. "alice")')
    if user is not MISSING and user:
        k.kernel_username = user
    timeout = r.seconds(body, path, "gateway_launch_timeout")
    if timeout is not None:
        if not 1 <= timeout <= 3600:
            r.report.error(path + ("gateway_launch_timeout",),
                           "`gateway_launch_timeout` must be between 1 and 3600 seconds, not %s "
                           "(pods can take minutes to schedule: e.g. 300)" % show(timeout), "value")
        else:
            k.gateway_launch_timeout = timeout
    k.env = r.environment(body, path, 'env { KERNEL_NAMESPACE = "dev" }')
    for key in ("kernel_username", "gateway_launch_timeout"):
        if key in body and not gateway:
            r.report.warn(path + (key,), "`%s` is used only with `gateway_url`: remove it, or add "
                          "`gateway_url`" % key)

def connection_file(r: Fields, body: dict, path: tuple, k: KernelConfig) -> None:
    """``connection_file``: attach to a kernel started elsewhere; it must exist and parse now."""
    value = r.string(body, path, "connection_file", "(the path of a running kernel's connection file)")
    if value is MISSING or not value:
        return
    p = os.path.expanduser(value)
    p = os.path.normpath(p if os.path.isabs(p) else os.path.join(
        r.report.directory_of(path + ("connection_file",)), p))
    k.connection_file = p
    others = [key for key in ("kernel_name", "python") if getattr(k, key)]
    if others:
        r.report.error(
            path + ("connection_file",),
            'kernel "%s" sets both `connection_file` and `%s`: keep one (attach to a running kernel, '
            "or start one)" % (k.name, others[0]),
        )
        return
    if k.gateway_url:
        r.report.error(
            path + ("connection_file",),
            'kernel "%s" sets both `connection_file` and `gateway_url`: keep one' % k.name,
        )
        return
    problem = connection_problem(p)
    if problem:
        r.report.error(
            path + ("connection_file",),
            "`connection_file` %s (resolved to %s) %s: start the kernel first, e.g. "
            "`python -m ipykernel_launcher --ip=127.0.0.1 -f %s`, or fix the path"
            % (show(value), p, problem, p),
            "value",
        )

