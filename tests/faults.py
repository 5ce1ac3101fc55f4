"""A fault-injecting HTTP proxy for S3 tests: sits on 127.0.0.1 in front of the moto server and,
at a seeded rate, answers 500 InternalError / 503 SlowDown, resets the connection, or forwards the
request but cuts the response body short. Keys in ``always_fail`` always get a 500. Also the
environment that makes a job's Spark Python workers crash on purpose (:func:`worker_faults_env`)."""

from __future__ import annotations

import http.client
import os
import random
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

_ERROR = ("<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>injected fault"
          "</Message></Error>")


class FaultProxy:
    """``with FaultProxy(upstream, rate=0.1) as proxy:`` then use ``proxy.endpoint``."""

    def __init__(self, upstream: str, rate: float, seed: int = 0, always_fail: tuple[str, ...] = ()):
        self.upstream = urlparse(upstream)
        self.rate = rate
        self.always_fail = always_fail
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.injected = {"500": 0, "503": 0, "reset": 0, "truncate": 0}
        self.requests = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                proxy.handle(self)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _fault(self, path: str) -> str | None:
        with self.lock:
            self.requests += 1
            if any(key in path for key in self.always_fail):
                return "500"
            if self.random.random() >= self.rate:
                return None
            fault = self.random.choice(["500", "503", "reset", "truncate"])
            self.injected[fault] += 1
            return fault

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        fault = self._fault(request.path)
        if fault in ("500", "503"):
            payload = _ERROR.format(code="InternalError" if fault == "500" else "SlowDown").encode()
            request.send_response(int(fault))
            request.send_header("Content-Type", "application/xml")
            request.send_header("Content-Length", str(len(payload)))
            request.end_headers()
            request.wfile.write(payload)
            return
        if fault == "reset":
            # SO_LINGER 0: close sends a TCP reset instead of a clean end of stream
            request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            request.connection.close()
            request.close_connection = True
            return
        upstream = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        headers["Host"] = self.upstream.netloc
        upstream.request(request.command, request.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        request.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                request.send_header(key, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        if fault == "truncate" and request.command == "GET" and len(data) > 16:
            request.wfile.write(data[: len(data) // 2])  # then hang up: a body cut short
            request.wfile.flush()
            request.close_connection = True
            request.connection.shutdown(socket.SHUT_RDWR)
            return
        if request.command != "HEAD":
            request.wfile.write(data)
        upstream.close()


FAULT_HOOKS = Path(__file__).resolve().parent / "fault_hooks"


def worker_faults_env(**faults: str) -> dict[str, str]:
    """Environment for a job whose Python workers die on purpose: ``faults`` maps
    ``ENCRYPTFACE_TEST_CRASH_ONCE`` / ``ENCRYPTFACE_TEST_KILL_EXECUTOR_ONCE`` to
    ``"<relative path>=<marker file>"``, and ``fault_hooks/sitecustomize.py`` (first on
    ``PYTHONPATH``) injects the crash into every Python process of the job."""
    path = os.pathsep.join(filter(None, [str(FAULT_HOOKS), os.environ.get("PYTHONPATH", "")]))
    return {"PYTHONPATH": path, **faults}
