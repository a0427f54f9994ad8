"""Real servers for the sync tests: Debian's mosquitto and victoria-metrics on free loopback ports,
the bridge as a subprocess, and a publishing agent over a real edge store.

Nothing here mocks a server we ship against. A missing binary skips the test with the apt-get command
that installs it, or fails it where CI is set (CI must have them). Waits poll with deadlines.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import msgspec.structs
import pytest

from tests.conftest import IN_CI, ROOT
from vagus.edge import Store
from vagus.edge.outbox import Outbox
from vagus.signal import Indicators

T = TypeVar("T")


class _Stoppable(Protocol):
    def stop(self) -> None: ...


S = TypeVar("S", bound=_Stoppable)

MOSQUITTO_LIMITS = ROOT / "deploy" / "mosquitto" / "conf.d" / "10-vagus-limits.conf"
MOSQUITTO_ACL = ROOT / "deploy" / "mosquitto" / "acl"
BRIDGE_USER = "vagus-bridge"
PASSWORDS = {BRIDGE_USER: "bridge-pw", "alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}


# -- helpers -------------------------------------------------------------------------------------------


def require_binary(name: str, package: str) -> str:
    """The path of a server binary; skip (or, in CI, fail) with the command that installs it."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if path is None:
        message = f"{name} is not installed: sudo apt-get install -y {package}"
        if IN_CI:
            pytest.fail(message + " (.ci/run must install it)")
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout_s: float,
    what: str,
    interval_s: float = 0.05,
    show: Callable[[], object] | None = None,
) -> T:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` (and ``show()``) at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            seen = f"; last seen: {show()!r}" if show is not None else ""
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}{seen}")
        time.sleep(interval_s)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _stop_process(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _spawn(argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a server with stderr appended to ``log_path`` (the child keeps its own copy of the file)."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)  # noqa: S603 — a fixed argv of our own, no shell


def workdir(prefix: str) -> Path:
    """A directory every local user can enter: mosquitto started by root drops to its own user
    unless told otherwise, and pytest's tmp_path is private to the test user."""
    path = Path(tempfile.mkdtemp(prefix=f"vagus-{prefix}-"))
    path.chmod(0o755)
    return path


# -- TLS ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Pki:
    """A throw-away CA and a server certificate for 127.0.0.1, made with the openssl command."""

    ca_cert: Path
    server_cert: Path
    server_key: Path

    @classmethod
    def make(cls, root: Path) -> Pki:
        openssl = require_binary("openssl", "openssl")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

        def run(*args: str) -> None:
            subprocess.run([openssl, *args], cwd=root, check=True, capture_output=True)  # noqa: S603 — a fixed argv of our own, no shell

        run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=vagus test CA")
        run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
        (root / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        sign = ["-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "san.ext"]
        run("x509", "-req", "-in", "server.csr", "-out", "server.crt", *sign)
        for name in ("server.key", "ca.key"):
            (root / name).chmod(0o644)  # readable by mosquitto's user when it drops root
        return cls(root / "ca.crt", root / "server.crt", root / "server.key")


# -- mosquitto -----------------------------------------------------------------------------------------


class Mosquitto:
    """Debian's mosquitto with a password file, the shipped ACL and limits, and persistence."""

    def __init__(
        self, root: Path, *, acl: bool = True, users: dict[str, str] | None = None, tls: Pki | None = None
    ) -> None:
        self.binary = require_binary("mosquitto", "mosquitto")
        self.passwd_binary = require_binary("mosquitto_passwd", "mosquitto")
        self.root = root
        self.port = free_port()
        self.users = dict(PASSWORDS if users is None else users)
        self.proc: subprocess.Popen[bytes] | None = None
        (root / "data").mkdir(exist_ok=True)
        (root / "conf.d").mkdir(exist_ok=True)
        shutil.copy(MOSQUITTO_LIMITS, root / "conf.d" / MOSQUITTO_LIMITS.name)
        passwd = root / "passwd"
        passwd.touch()
        for user, password in self.users.items():
            subprocess.run([self.passwd_binary, "-b", str(passwd), user, password], check=True, capture_output=True)  # noqa: S603 — a fixed argv of our own, no shell
        lines = [
            "per_listener_settings false",
            f"include_dir {root / 'conf.d'}",
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous false",
            f"password_file {passwd}",
            "persistence true",
            f"persistence_location {root / 'data'}/",
            f"log_dest file {root / 'mosquitto.log'}",
            "log_type all",
        ]
        if acl:
            shutil.copy(MOSQUITTO_ACL, root / "acl")
            lines.append(f"acl_file {root / 'acl'}")
        self.tls_port = free_port() if tls else None
        if tls is not None:  # a second listener, as in production: TLS for agents, loopback for the bridge
            lines += [f"listener {self.tls_port} 127.0.0.1", f"certfile {tls.server_cert}", f"keyfile {tls.server_key}"]
        if os.geteuid() == 0:
            lines.append("user root")  # keep access to the test's files (the default drops to 'mosquitto')
        (root / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    def start(self) -> Mosquitto:
        self.proc = _spawn([self.binary, "-c", str(self.root / "mosquitto.conf")], self.root / "stderr.log")
        wait_until(lambda: _port_open(self.port) or self._died(), timeout_s=10, what="mosquitto to listen")
        return self

    def _died(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            log = (self.root / "mosquitto.log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"mosquitto exited with {self.proc.returncode}:\n{log}")
        return False

    def stop(self) -> None:
        _stop_process(self.proc)

    def kill(self) -> None:
        """SIGKILL: the broker loses whatever it received since its last autosave."""
        _stop_process(self.proc, signal.SIGKILL)

    def log(self) -> str:
        path = self.root / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""


# -- VictoriaMetrics -----------------------------------------------------------------------------------


class VictoriaMetrics:
    """Debian's victoria-metrics: accepts /api/v2/write, read back through /api/v1/export.

    ``-dedup.minScrapeInterval=1ms`` keeps the last sample per series and millisecond, so a rewrite of
    the same point replaces it, as in InfluxDB."""

    def __init__(self, root: Path) -> None:
        self.binary = require_binary("victoria-metrics", "victoria-metrics")
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> VictoriaMetrics:
        argv = [
            self.binary,
            f"-storageDataPath={self.root / 'data'}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-dedup.minScrapeInterval=1ms",
            "-loggerLevel=ERROR",
        ]
        self.proc = _spawn(argv, self.root / "stderr.log")
        wait_until(self._healthy, timeout_s=20, what="victoria-metrics to answer /health")
        return self

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"victoria-metrics exited with {self.proc.returncode}")
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=1) as r:  # noqa: S310 — the test server's http:// URL
                return r.read().strip() == b"OK"
        except OSError:
            return False

    def stop(self) -> None:
        _stop_process(self.proc, timeout_s=30)

    def export(self, match: str) -> list[dict[str, Any]]:
        """Every series matching ``match`` (a series selector), after making fresh writes searchable."""
        with urllib.request.urlopen(self.url + "/internal/force_flush", timeout=10):  # noqa: S310 — the test server's http:// URL
            pass
        # The default end is "now" in whole seconds, which hides points written this second.
        query = urllib.parse.urlencode({"match[]": match, "end": int(time.time()) + 3600})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=10) as r:  # noqa: S310 — the test server's http:// URL
            return [json.loads(line) for line in r.read().splitlines() if line.strip()]

    def samples(self, metric: str, **labels: str) -> list[tuple[int, float]]:
        """(timestamp ms, value) of every sample of the series ``metric{labels}``, in time order."""
        selector = ",".join([f'__name__="{metric}"'] + [f'{k}="{v}"' for k, v in labels.items()])
        out = []
        for series in self.export("{" + selector + "}"):
            out += zip(series["timestamps"], series["values"], strict=True)
        return sorted(out)


# -- the bridge ----------------------------------------------------------------------------------------


class BridgeProcess:
    """``python -m vagus.sync.bridge`` with a generated config; SIGKILL-able."""

    def __init__(
        self, root: Path, broker: Mosquitto, db: VictoriaMetrics, *, share_group: str = "", batch_max: int = 500
    ) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.dead_letter_path = root / "dead-letters.db"
        self.log_path = root / "bridge.log"
        self.health_path = root / "alive"  # the compose healthcheck's liveness file (vagus.heartbeat)
        self.proc: subprocess.Popen[bytes] | None = None
        (root / "mqtt-password").write_text(PASSWORDS[BRIDGE_USER])
        (root / "bridge.toml").write_text(
            f"""
[mqtt]
host = "127.0.0.1"
port = {broker.port}
username = "{BRIDGE_USER}"
password_file = "{root / "mqtt-password"}"
client_id = "vagus-bridge-test"

[influx]
url = "{db.url}"
bucket = "vagus-{{person}}"
timeout_s = 5

[bridge]
batch_max = {batch_max}
flush_interval_s = 0.1
share_group = "{share_group}"
dead_letter_path = "{self.dead_letter_path}"
"""
        )

    def start(self) -> BridgeProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAGUS_")}
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        argv = [sys.executable, "-m", "vagus.sync.bridge", "--config", str(self.root / "bridge.toml")]
        argv += ["--health-file", str(self.health_path)]
        self.proc = _spawn(argv, self.log_path, env=env)
        wait_until(lambda: "subscribed to" in self.log()[offset:] or self._died(), timeout_s=20, what="the bridge")
        return self

    def _died(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"the bridge exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
        return False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        _stop_process(self.proc)

    def kill(self) -> None:
        _stop_process(self.proc, signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def dead_letters(self) -> list[tuple[str, str, int]]:
        """(reason, topic, count) of each stored dead letter."""
        if not self.dead_letter_path.exists():
            return []
        import sqlite3

        with sqlite3.connect(self.dead_letter_path) as db:
            return db.execute("SELECT reason, topic, count FROM dead_letters ORDER BY id").fetchall()


# -- an agent's side: a real edge store with its outbox -----------------------------------------------


def edge_outbox(path: Path, *, capacity: int = 200_000) -> Outbox:
    """The outbox of a real edge store at ``path`` (migrated by ``Store``)."""
    Store(path).close()
    return Outbox.open(path, capacity=capacity)


def indicators_record(i: int, t0_utc_s: float, *, device_id: str = "strap-1") -> dict[str, Any]:
    """Record ``i`` of a deterministic series, as the edge gives it (``msgspec.structs.asdict(Indicators)``).

    Values have few significant digits: VictoriaMetrics keeps about 12, so these come back exactly."""
    record = Indicators(
        device_id=device_id,
        t_start_utc_s=t0_utc_s + 5 * i - 60,
        t_end_utc_s=t0_utc_s + 5 * i,
        window_s=60.0,
        n_beats=60 + i % 20,
        quality=1.0 - (i % 4) * 0.125,
        window_nominal_s=60.0,
        hr_bpm=55.0 + (i % 40) * 0.5,
        rmssd_ms=20.0 + i * 0.25,
        sdnn_ms=None if i % 3 == 0 else 40.5,
        stress_score=float(i % 100),
        stress_level=("rest", "low", "medium", "high")[i % 4],
    )
    return msgspec.structs.asdict(record)


# Context managers for the test modules' fixtures (a fixture imported from here would shadow its
# parameter names, which ruff rightly flags).


@contextmanager
def serving(root: Path, server: S) -> Iterator[S]:
    """Yield a started server; afterwards stop it and remove its working folder."""
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def running_mosquitto(*, acl: bool = True, tls: Pki | None = None) -> Iterator[Mosquitto]:
    root = workdir("mosquitto" if acl else "mosquitto-open")
    with serving(root, Mosquitto(root, acl=acl, tls=tls).start()) as server:
        yield server


@contextmanager
def running_victoria_metrics() -> Iterator[VictoriaMetrics]:
    root = workdir("vm")
    with serving(root, VictoriaMetrics(root).start()) as server:
        yield server


@contextmanager
def running_bridge(broker: Mosquitto, db: VictoriaMetrics, **kwargs: Any) -> Iterator[BridgeProcess]:
    root = workdir("bridge")
    with serving(root, BridgeProcess(root, broker, db, **kwargs).start()) as process:
        yield process


# -- an agent process (for SIGKILL tests) ---------------------------------------------------------------


def agent_main(argv: list[str]) -> int:
    """``python -m tests.servers agent DB PORT PERSON T0 COUNT PACE_S``: an agent producing records
    0..COUNT-1 of ``indicators_record`` into its outbox and publishing them; a restarted one carries on
    after the last record it stored. Exits once every record is confirmed."""
    from vagus.clock import RealClock
    from vagus.sync.publisher import Publisher, PublisherSettings
    from vagus.sync.settings import Endpoint

    db, port, person, t0, count, pace_s = argv
    outbox = edge_outbox(Path(db))
    publisher = Publisher(
        outbox=outbox,
        endpoint=Endpoint("127.0.0.1", int(port), person, PASSWORDS[person]),
        settings=PublisherSettings(person=person, resend_after_s=2.0, pump_interval_s=0.1),
        clock=RealClock(),
    )
    publisher.start()
    for i in range(outbox.last_seq(person), int(count)):
        publisher.submit_summary(indicators_record(i, float(t0)), device="d-strap1")
        print(i, flush=True)
        time.sleep(float(pace_s))
    while outbox.pending(person):
        time.sleep(0.05)
    publisher.stop()
    print("confirmed", flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["agent"]:
        sys.exit(agent_main(sys.argv[2:]))
    sys.exit(f"usage: python -m tests.servers agent DB PORT PERSON T0 COUNT PACE_S, not {sys.argv[1:]}")
