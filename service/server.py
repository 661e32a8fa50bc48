"""Running the service under gunicorn (several worker processes) or, for debugging, Flask's server.

Each gunicorn worker builds its own app after the fork (no ``preload_app``): it opens its
own SQLite connection and loads the model from memory-mapped ``.npy`` arrays, so the
workers share the artifact's pages through the OS page cache instead of copying them.

Workers are gunicorn's ``gthread`` kind: each process answers on several threads, a connection
that sends nothing for 5 s goes back to the poller instead of holding a thread, and idle
keep-alive connections are closed after ``KEEPALIVE`` seconds. A client that trickles its
headers still holds one thread, so a few slow clients cannot take every thread of every
worker; in production a buffering proxy (``deploy/nginx.conf``) in front takes that load whole.
Errors gunicorn answers itself (414 for a long request line, 431, 400 for a malformed request)
use the service's JSON error shape too.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile

from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from .errors import CODES

ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms [%({x-request-id}o)s]'
KEEPALIVE = 5            # seconds an idle keep-alive connection is kept
LIMIT_REQUEST_LINE = 4094  # bytes of "GET /path?query HTTP/1.1"; longer: 414
LIMIT_REQUEST_FIELDS = 60
LIMIT_REQUEST_FIELD_SIZE = 8190


def write_json_error(sock, status_int, reason, mesg):
    """gunicorn's ``util.write_error`` in the service's one error shape instead of an HTML page."""
    code = CODES.get(status_int) or reason.lower().replace(" ", "_")
    if status_int == 414:
        code, mesg = "uri_too_long", f"the request line must be at most {LIMIT_REQUEST_LINE} bytes"
    elif status_int == 431:
        code = "request_header_fields_too_large"
    body = json.dumps({"error": {"status": status_int, "code": code, "message": mesg or reason}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nContent-Length: {len(body)}\r\n\r\n")
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)


class ReadalsoWorker(ThreadWorker):
    """gunicorn's threaded worker, answering the errors gunicorn itself raises in JSON."""

    def init_process(self):
        gunicorn_util.write_error = write_json_error  # this worker process only: it is forked
        super().init_process()


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


def serve(app_config: dict, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 2, threads: int = 16,
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
        "bind": f"{host}:{port}", "workers": workers, "worker_class": ReadalsoWorker, "threads": threads,
        "timeout": timeout, "graceful_timeout": min(timeout, 10), "keepalive": KEEPALIVE,
        "limit_request_line": LIMIT_REQUEST_LINE, "limit_request_fields": LIMIT_REQUEST_FIELDS,
        "limit_request_field_size": LIMIT_REQUEST_FIELD_SIZE,
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
