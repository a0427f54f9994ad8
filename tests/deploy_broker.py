"""Debian's mosquitto running the compose stack's own ``deploy/mosquitto/mosquitto.conf``, with its
``/mosquitto/...`` paths rewritten to a temporary folder and the TLS port moved to a free loopback port.

Used by the deployment tests (test_pki, test_mosquitto_auth, test_ha_discovery): what they exercise is
the file docker-compose.yml mounts, not a test-only configuration.
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ROOT
from tests.servers import _port_open, _spawn, _stop_process, free_port, require_binary, wait_until, workdir

COMPOSE_CONF = ROOT / "deploy" / "mosquitto" / "mosquitto.conf"
LIMITS = ROOT / "deploy" / "mosquitto" / "conf.d" / "10-vagus-limits.conf"


class ComposeMosquitto:
    """The broker of the compose stack, as files: ``secrets/passwd``, ``secrets/acl``, ``certs/*``."""

    def __init__(self, root: Path, *, passwd: str, acl: str, certs: dict[str, bytes]) -> None:
        self.binary = require_binary("mosquitto", "mosquitto")
        self.root = root
        self.port = free_port()
        self.proc = None
        for sub in ("secrets", "certs", "data", "config/conf.d"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "secrets" / "passwd").write_text(passwd)
        (root / "secrets" / "acl").write_text(acl)
        for name, data in certs.items():
            (root / "certs" / name).write_bytes(data)
        shutil.copy(LIMITS, root / "config" / "conf.d" / LIMITS.name)
        text = COMPOSE_CONF.read_text().replace("/mosquitto/", f"{root}/")
        text, n = re.subn(r"^listener 8883$", f"listener {self.port} 127.0.0.1", text, flags=re.MULTILINE)
        assert n == 1, "the compose mosquitto.conf no longer has exactly one `listener 8883`"
        text = text.replace("log_dest stdout", f"log_dest file {root / 'mosquitto.log'}")
        if os.geteuid() == 0:
            text += "user root\n"  # keep access to the test's 0600 files (the default drops to 'mosquitto')
        (root / "mosquitto.conf").write_text(text)

    @property
    def ca_file(self) -> Path:
        return self.root / "certs" / "ca.crt"

    def start(self) -> ComposeMosquitto:
        self.proc = _spawn([self.binary, "-c", str(self.root / "mosquitto.conf")], self.root / "stderr.log")
        wait_until(lambda: _port_open(self.port) or self._died(), timeout_s=10, what="mosquitto to listen")
        return self

    def _died(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"mosquitto exited with {self.proc.returncode}:\n{self.log()[-2000:]}")
        return False

    def stop(self) -> None:
        _stop_process(self.proc)

    def log(self) -> str:
        text = ""
        for name in ("mosquitto.log", "stderr.log"):
            path = self.root / name
            text += path.read_text(errors="replace") if path.exists() else ""
        return text

    def client_context(self, ca_file: Path | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(ca_file or self.ca_file))
        return context


@contextmanager
def compose_mosquitto(*, passwd: str, acl: str, certs: dict[str, bytes]) -> Iterator[ComposeMosquitto]:
    root = workdir("compose-mosquitto")
    broker = ComposeMosquitto(root, passwd=passwd, acl=acl, certs=certs)
    try:
        yield broker.start()
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)
