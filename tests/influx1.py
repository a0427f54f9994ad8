"""A real InfluxDB 1.x query engine for tests: Debian's ``influxd`` 1.6.7 on free loopback ports.

It runs InfluxQL over ``/query`` and takes line protocol over ``/write`` (it has no ``/api/v2/*``:
research/sync.md §4), which is what the dashboards' queries and the export/erase code need. Each
server gets its own meta/data/wal folders in a throw-away directory and a config that turns off
usage reporting, the ``_internal`` monitor database and request logging.

Use it from a test module with ``pytest_plugins = ("tests.influx1",)`` and a parameter named
``influx1`` (module-scoped), or with ``running_influx1()`` in a fixture of your own. As in
tests/servers.py, a missing binary skips with the apt-get command, and fails where CI is set.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.servers import _spawn, _stop_process, free_port, require_binary, serving, wait_until, workdir

__all__ = ["Influx1", "influx1", "running_influx1"]


class InfluxError(AssertionError):
    """An HTTP error or a statement error from influxd, with its message."""


class Influx1:
    """Debian's influxd 1.6.7 with a private config; ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self, root: Path) -> None:
        self.binary = require_binary("influxd", "influxdb")
        self.root = root
        self.port = free_port()
        self.rpc_port = free_port()  # the backup/restore service; the default 8088 may be taken
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.config_path = root / "influxdb.conf"
        self.config_path.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"

[meta]
  dir = "{root / "meta"}"
  logging-enabled = false

[data]
  dir = "{root / "data"}"
  wal-dir = "{root / "wal"}"
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
"""
        )

    def start(self) -> Influx1:
        self.proc = _spawn([self.binary, "-config", str(self.config_path)], self.root / "stderr.log")
        wait_until(self._pings, timeout_s=30, what="influxd to answer /ping", show=self.log)
        return self

    def _pings(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"influxd exited with {self.proc.returncode}:\n{self.log()[-2000:]}")
        try:
            with urllib.request.urlopen(self.url + "/ping", timeout=1) as r:  # noqa: S310 — the test server's http:// URL
                return r.status == 204
        except OSError:
            return False

    def stop(self) -> None:
        _stop_process(self.proc, timeout_s=20)

    def log(self) -> str:
        path = self.root / "stderr.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- HTTP API ----------------------------------------------------------------------------------

    def _request(self, path: str, params: dict[str, str], body: bytes | None = None) -> bytes:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        method = "POST" if body is not None else "GET"
        request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 — the test server's http:// URL
        if body is not None and path == "/query":
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310 — the test server's http:// URL
                return r.read()
        except urllib.error.HTTPError as e:
            raise InfluxError(f"{path} answered {e.code}: {e.read().decode(errors='replace')}") from None

    def write(self, db: str, lines: str, *, precision: str = "ms") -> None:
        """POST line protocol to ``/write?db=…&precision=ms`` (the bridge's millisecond timestamps)."""
        self._request("/write", {"db": db, "precision": precision}, lines.encode())

    def query(self, db: str, q: str, *, epoch: str = "ms") -> dict[str, Any]:
        """Run InfluxQL through ``/query`` (POST, so SELECT and DELETE/DROP both work); the JSON answer.

        ``epoch="ms"`` returns times as integer milliseconds, like Grafana asks for them. A statement
        error (``results[i].error``) raises ``InfluxError``."""
        params = {"db": db, "epoch": epoch} if db else {"epoch": epoch}
        answer = json.loads(self._request("/query", params, urllib.parse.urlencode({"q": q}).encode()))
        if "error" in answer:
            raise InfluxError(f"{q!r}: {answer['error']}")
        for result in answer.get("results", []):
            if "error" in result:
                raise InfluxError(f"{q!r}: {result['error']}")
        return answer

    def create_database(self, db: str) -> None:
        self.query("", f'CREATE DATABASE "{_quoted(db)}"')

    def drop_database(self, db: str) -> None:
        self.query("", f'DROP DATABASE "{_quoted(db)}"')

    def databases(self) -> list[str]:
        answer = self.query("", "SHOW DATABASES")
        series = answer["results"][0].get("series", [])
        return [row[0] for s in series for row in s.get("values", [])]


def _quoted(identifier: str) -> str:
    """An identifier inside InfluxQL double quotes."""
    return identifier.replace("\\", "\\\\").replace('"', '\\"')


@contextmanager
def running_influx1() -> Iterator[Influx1]:
    """A started influxd; afterwards stopped and its folder removed."""
    root = workdir("influx1")
    with serving(root, Influx1(root).start()) as server:
        yield server


@pytest.fixture(scope="module")
def influx1() -> Iterator[Influx1]:
    with running_influx1() as server:
        yield server
