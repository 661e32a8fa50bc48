"""gunicorn as `readalso serve` runs it, alone and behind Debian's nginx with deploy/nginx.conf,
probed the way the open internet would: slow clients, a chunked 9 MiB upload, a long URL, floods."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import API_TOKEN, REPO, LiveServer, free_port
from recommender.store import Store

pytestmark = [pytest.mark.server, pytest.mark.slow]

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
MiB = 1024 * 1024


def load_probe():
    spec = importlib.util.spec_from_file_location("probe_slow_clients", REPO / "scripts" / "probe_slow_clients.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def call(url: str, *, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def json_error(status: int, body: bytes, expected: int, code: str) -> dict:
    assert status == expected, body[:300]
    error = json.loads(body)["error"]
    assert error["status"] == expected and error["code"] == code and error["message"]
    return error


def jsonl_records(count: int, size: int = 1024) -> bytes:
    lines = []
    for i in range(count):
        line = json.dumps({"id": f"bulk-{i}", "headline": f"Bulk story {i}", "body": ""})
        lines.append(line[:-1] + ', "section": "' + "x" * (size - len(line) - 16) + '"}\n')
    return "".join(lines).encode()


def chunked_upload(port: int, body: bytes, chunk: int = 64 * 1024) -> tuple[int, bytes]:
    """POST /v1/articles with Transfer-Encoding: chunked over a raw socket; (status, body) of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall((f"POST /v1/articles HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {API_TOKEN}\r\n"
                      "Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n").encode())
        try:
            for start in range(0, len(body), chunk):
                part = body[start:start + chunk]
                sock.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer and stop reading before the end: read its answer
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            part = sock.recv(65536)
            if not part:
                break
            answer += part
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), payload


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 1


def stored_bulk(db: Path) -> int:
    with Store(db) as store:
        return len(store.get_many([f"bulk-{i}" for i in range(9216)]))


class Nginx:
    """Debian's nginx with deploy/nginx.conf on a free loopback port, in front of ``upstream_port``."""

    def __init__(self, directory: Path, upstream_port: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.directory = directory
        site = (REPO / "deploy" / "nginx.conf").read_text()
        site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
        site = site.replace("listen 80;", f"listen 127.0.0.1:{self.port};")
        assert str(upstream_port) in site and str(self.port) in site
        temp = " ".join(f"{name}_temp_path {directory}/{name};" for name in ("client_body", "proxy", "fastcgi",
                                                                              "uwsgi", "scgi"))
        config = directory / "nginx.conf"
        user = "user root;\n" if os.geteuid() == 0 else ""  # else its workers run as nobody, outside pytest's 0700 tmp
        config.write_text(f"{user}daemon off;\nworker_processes 1;\npid {directory}/nginx.pid;\n"
                          f"error_log {directory}/error.log warn;\nevents {{ worker_connections 1024; }}\n"
                          f"http {{\naccess_log {directory}/access.log;\n{temp}\n{site}\n}}\n")
        self.process = subprocess.Popen([NGINX, "-p", str(directory), "-c", str(config), "-e",
                                         str(directory / "error.log")],
                                        stdout=subprocess.DEVNULL, stderr=(directory / "stderr.log").open("wb"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {(directory / 'stderr.log').read_text()}"
                                   f"{(directory / 'error.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """gunicorn (trusting one proxy, small event budget) with nginx in front; both on loopback."""
    from conftest import build_service_db

    if NGINX is None:
        pytest.skip("needs Debian's nginx (apt-get install -y nginx; scripts/test.sh installs it as root)")
    directory = tmp_path_factory.mktemp("proxy")
    server = LiveServer(build_service_db(directory), env={"READALSO_TRUSTED_PROXIES": "1",
                                                          "READALSO_RATE_LIMIT_EVENTS": "3/minute"})
    nginx = None
    try:
        server.wait_ready()
        nginx = Nginx(tmp_path_factory.mktemp("nginx"), server.port)
        yield server, nginx
    finally:
        if nginx is not None:
            nginx.stop()
        server.stop()


# -- gunicorn alone -----------------------------------------------------------------------------
def test_gunicorn_answers_while_eight_slow_clients_hold_connections(stack):
    server, _ = stack
    result = load_probe().probe(server.url, slow=8, requests=20, interval=2.0)
    print(f"\ngunicorn, 8 slow clients: {result}")
    assert result["failures"] == 0 and result["p95"] < 1.0, result


def test_gunicorn_refuses_a_chunked_9_mib_upload_whole(stack):
    server, _ = stack
    body = jsonl_records(9216)
    assert len(body) == 9 * MiB
    status, payload = chunked_upload(server.port, body)
    error = json_error(status, payload, 413, "payload_too_large")
    assert error["parameter"] == "body" and stored_bulk(server.db) == 0


def test_gunicorn_answers_a_long_request_line_in_json(stack):
    server, _ = stack
    status, headers, body = call(server.url + "/v1/articles/" + "a" * 5000)
    json_error(status, body, 414, "uri_too_long")
    assert headers["Content-Type"] == "application/json"


# -- behind nginx -------------------------------------------------------------------------------
def test_nginx_passes_answers_and_headers_through(stack):
    _, nginx = stack
    status, headers, body = call(nginx.url + "/v1/articles/storm-1/related?k=3")
    assert status == 200 and {item["id"] for item in json.loads(body)["related"]} == {"storm-2", "storm-3",
                                                                                      "storm-hostile"}
    assert headers["X-Content-Type-Options"] == "nosniff" and "frame-ancestors 'none'" in headers[
        "Content-Security-Policy"]
    assert len(headers["X-Request-ID"]) == 32  # nginx's $request_id, taken by the service
    assert call(nginx.url + "/metrics")[0] == 200  # the scraper on loopback


def test_nginx_refuses_a_chunked_9_mib_upload_in_json(stack):
    server, nginx = stack
    status, payload = chunked_upload(nginx.port, jsonl_records(9216))
    assert json_error(status, payload, 413, "payload_too_large")["parameter"] == "body"
    assert stored_bulk(server.db) == 0
    status, _, body = call(nginx.url + "/v1/articles/" + "a" * 9000)
    json_error(status, body, 414, "uri_too_long")


def test_nginx_takes_slow_clients(stack):
    _, nginx = stack
    result = load_probe().probe(nginx.url, slow=64, requests=20, interval=2.0)
    print(f"\nnginx, 64 slow clients: {result}")
    assert result["failures"] == 0 and result["p95"] < 1.0, result


def test_the_client_nginx_saw_is_the_one_rate_limited(stack):
    _, nginx = stack
    event = json.dumps({"type": "impression", "article": "storm-1", "target": "storm-2", "position": 1}).encode()
    statuses = [call(nginx.url + "/v1/events", method="POST", body=event,
                     headers={"Content-Type": "application/json", "X-Forwarded-For": f"198.51.100.{i}"})
                for i in range(4)]  # a forged X-Forwarded-For is replaced by nginx: one client, 3 a minute
    assert [s for s, _, _ in statuses] == [202, 202, 202, 429]
    json_error(statuses[3][0], statuses[3][2], 429, "too_many_requests")
    assert int(statuses[3][1]["Retry-After"]) > 0


def test_nginx_answers_503_in_json_when_the_service_is_down(stack):
    server, nginx = stack
    assert server.stop() == 0
    status, headers, body = call(nginx.url + "/v1/articles/storm-1/related")
    json_error(status, body, 503, "unavailable")
    assert headers["Retry-After"] == "5"
