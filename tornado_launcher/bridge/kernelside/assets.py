"""Templates and static files of a running app: where they are, and forgetting what
Tornado cached of them, so an edit is served on the next request without a restart.

Tornado keeps, for the life of the process (``debug`` aside), the compiled
templates of each loader (``RequestHandler._template_loaders``, one loader per
template path, or the ``template_loader`` setting) and the version hash of each
static file (``StaticFileHandler._static_hashes``, keyed by absolute path;
``static_url`` appends it as ``?v=``).  Both are classes' state, so they also
outlive a restart of the app in the kernel: :func:`forget` is called for the
stopped run too.  Both are guarded by Tornado's own locks, so the kernel's
thread may reset them while a threaded app serves.
"""

import os


def applications(run):
    """The ``tornado.web.Application`` objects ``run``'s servers serve (and ``run.obj``
    when it is one)."""
    import tornado.web

    apps = []
    candidates = [getattr(server, "request_callback", None) for server in run.servers.servers()]
    candidates.append(run.obj)
    for obj in candidates:
        if isinstance(obj, tornado.web.Application) and not any(obj is a for a in apps):
            apps.append(obj)
    return apps


def _add(paths, value):
    if isinstance(value, (str, bytes, os.PathLike)) and value:
        path = os.path.abspath(os.fsdecode(value))
        if path not in paths:
            paths.append(path)


def directories(run):
    """``{"template_paths": [...], "static_paths": [...]}``: the absolute directories
    ``run``'s applications load templates and static files from."""
    templates, static = [], []
    for app in applications(run):
        settings = app.settings
        _add(templates, settings.get("template_path"))
        _add(templates, getattr(settings.get("template_loader"), "root", None))
        _add(static, settings.get("static_path"))
    return {"template_paths": templates, "static_paths": static}


def _under(path, directory):
    directory = directory.rstrip(os.sep)
    return path == directory or path.startswith(directory + os.sep)


def forget(run, paths=None):
    """Drop Tornado's caches of the templates and static files at ``paths`` (absolute;
    None: everything in ``run``'s template and static directories).

    A template loader that holds any of the paths is reset whole (a template's
    ``{% extends %}`` and ``{% include %}`` are compiled into it); a static
    file's cached hash is dropped, so the next ``static_url`` hashes the new
    content.  Returns ``(loaders reset, static hashes dropped)``.
    """
    import tornado.web

    apps = applications(run)
    dirs = directories(run)
    if paths is None:
        wanted_templates = dirs["template_paths"]
        wanted_static = dirs["static_paths"]
    else:
        paths = [os.path.abspath(p) for p in paths]
        wanted_templates = wanted_static = paths

    def holds(directory, wanted):
        return any(_under(p, directory) or (paths is None and _under(directory, p)) for p in wanted)

    loaders = []
    with tornado.web.RequestHandler._template_loader_lock:
        for key, loader in list(tornado.web.RequestHandler._template_loaders.items()):
            if holds(os.path.abspath(key), wanted_templates):
                loaders.append(loader)
    for app in apps:
        loader = app.settings.get("template_loader")
        root = getattr(loader, "root", None)
        if loader is not None and root and holds(os.path.abspath(root), wanted_templates) \
                and not any(loader is l for l in loaders):
            loaders.append(loader)
    for loader in loaders:
        loader.reset()

    classes = [tornado.web.StaticFileHandler]
    for app in apps:
        cls = app.settings.get("static_handler_class")
        if isinstance(cls, type) and cls not in classes:
            classes.append(cls)
    owners = []
    for cls in classes:
        for klass in cls.__mro__:
            if "_static_hashes" in vars(klass) and klass not in owners:
                owners.append(klass)
    dropped = 0
    for klass in owners:
        with klass._lock:
            hashes = klass._static_hashes
            for key in list(hashes):
                if any(_under(key, w) for w in wanted_static) or \
                        (paths is not None and os.path.realpath(key) in paths):
                    del hashes[key]
                    dropped += 1
    return len(loaders), dropped
