"""Running the service under gunicorn (several worker processes) or, for debugging, Flask's server.

Each gunicorn worker builds its own app after the fork (no ``preload_app``): it opens its
own SQLite connection and loads the model from memory-mapped ``.npy`` arrays, so the
workers share the artifact's pages through the OS page cache instead of copying them.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

from gunicorn.app.base import BaseApplication

ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms [%({x-request-id}o)s]'


class ReadalsoServer(BaseApplication):
    """A gunicorn application whose workers each call ``create_app(config)``."""

    def __init__(self, app_config: dict, options: dict):
        self.app_config = app_config
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self):
        from service import create_app
        return create_app(self.app_config)


def serve(app_config: dict, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 2,
          timeout: int = 30, access_log: bool = True) -> None:
    """Serve until interrupted. Metrics of all workers are merged through a shared directory."""
    from .holder import serve_newest

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        directory = tempfile.mkdtemp(prefix="readalso-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
    db, root = _paths(app_config)
    serve_newest(db, root)  # every worker, also one gunicorn restarts later, serves this version until a reload

    def child_exit(server, worker):
        from .metrics import worker_exit
        worker_exit(worker.pid)

    if "READALSO_LOG_REQUESTS" not in os.environ:
        app_config = {"LOG_REQUESTS": False, **app_config}  # per-request lines are the access log's job
    ReadalsoServer(app_config, {
        "bind": f"{host}:{port}", "workers": workers, "worker_class": "sync", "timeout": timeout,
        "accesslog": "-" if access_log else None, "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-", "child_exit": child_exit, "proc_name": "readalso",
    }).run()


def serve_debug(app_config: dict, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Flask's development server with the debugger and reloader: never for production."""
    from service import create_app
    from .holder import serve_newest

    serve_newest(*_paths(app_config))
    create_app(app_config).run(host=host, port=port, debug=True)


def _paths(app_config: dict):
    from service import load_config
    config = load_config(app_config)
    return config["DB"], config["MODEL_ROOT"]
