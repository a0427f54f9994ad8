"""``vagus init``: a complete first-run output (every file 0600, every folder 0700), configs that load
with vagus's own loaders, a password file that matches the password files, certificates openssl accepts,
no secret on the terminal, no silent overwrite, and ``--rotate`` rotating what it says."""

from __future__ import annotations

import base64
import io
import json
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.servers import require_binary
from vagus.config import load_config
from vagus.init_cli import main
from vagus.mosquitto_auth import password_line, render_acl
from vagus.sync.settings import load_bridge_config

PEOPLE = ["alice", "bob"]


def run(out: Path, *args: str) -> tuple[int, str]:
    stream = io.StringIO()
    code = main(["--people", ",".join(PEOPLE), "--out", str(out), "--domain", "vagus.example.org", *args], stream)
    return code, stream.getvalue()


@pytest.fixture
def first(tmp_path: Path) -> tuple[Path, str]:
    out = tmp_path / "local"
    code, stdout = run(out, "--raw-beats", "bob")
    assert code == 0
    return out, stdout


def secret_files(out: Path) -> dict[str, str]:
    names = ["tls/ca.key", "tls/server.key", "grafana/admin-password", "influxdb/admin-password"]
    names += ["influxdb/operator-token", "mosquitto/health-password"]
    names += [f"mqtt/{user}.password" for user in ["vagus-bridge", *PEOPLE, *(p + "-companion" for p in PEOPLE)]]
    return {name: (out / name).read_text().strip() for name in names}


def test_the_first_run_writes_everything_private(first):
    out, _ = first
    expected = {
        ".env",
        "people",
        "vagus-init.json",
        "config/bridge.toml",
        "config/agent-sim.toml",
        "mosquitto/passwd",
        "mosquitto/acl",
        "tls/ca.crt",
        "tls/server.crt",
        "grafana/provisioning/datasources/vagus.yaml",
        "grafana/provisioning/dashboards/vagus.yaml",
        "grafana/provisioning/alerting/vagus.yaml",
        "influxdb/admin-username",
        *secret_files(out),
        *(f"config/agent-{p}.toml" for p in PEOPLE),
        *(f"grafana/json/{p}/{d}.json" for p in PEOPLE for d in ("today", "nights", "trends")),
    }
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert files == expected
    for path in [out, *out.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    for folder in ("data/mosquitto", "data/influxdb", "data/grafana", "data/bridge", "data/agent", "influxdb/tokens"):
        assert (out / folder).is_dir()
    assert len(set(secret_files(out).values())) == len(secret_files(out))  # all different


def test_no_secret_reaches_the_terminal(first, capsys):
    out, stdout = first
    printed = stdout + "".join(capsys.readouterr())
    for name, secret in secret_files(out).items():
        for line in secret.splitlines():
            if "PRIVATE KEY" not in line and line.strip():
                assert line not in printed, name
    assert "grafana/admin-password" in printed  # where to find it, not what it is


def test_the_password_file_and_acl_match_the_clients_passwords(first):
    out, _ = first
    lines = dict(line.split(":", 1) for line in (out / "mosquitto/passwd").read_text().splitlines())
    users = ["vagus-bridge", "vagus-health", *PEOPLE, *(p + "-companion" for p in PEOPLE)]
    assert sorted(lines) == sorted(users)
    for user in users:
        name = "mosquitto/health-password" if user == "vagus-health" else f"mqtt/{user}.password"
        password = (out / name).read_text().strip()
        _, iterations, salt, _ = lines[user].split("$")[1:]
        assert password_line(user, password, salt=base64.b64decode(salt), iterations=int(iterations)) == (
            f"{user}:{lines[user]}"
        )
    assert (out / "mosquitto/acl").read_text() == render_acl(PEOPLE, raw_beats_for=["bob"])


def test_the_configs_load_with_vagus_own_loaders(first):
    out, _ = first
    bridge = load_bridge_config(out / "config/bridge.toml", env={})
    assert (bridge.mqtt.tls, bridge.mqtt.port, bridge.mqtt.host) == (True, 8883, "mosquitto")
    assert bridge.mqtt.password_file == "/run/secrets/bridge-mqtt-password"  # noqa: S105 — a path, not a password
    assert bridge.influx.token_file.endswith("/bridge.token") and bridge.influx.bucket == "vagus-{person}"
    for person in PEOPLE:
        agent = load_config(out / f"config/agent-{person}.toml", env={"HOME": "/nonexistent"})
        assert (agent.sync.person, agent.sync.host, agent.sync.tls) == (person, "vagus.example.org", True)
        assert agent.sync.raw_beats is (person == "bob")
    sim = load_config(out / "config/agent-sim.toml", env={})
    assert (sim.sync.person, sim.sync.host, sim.sync.enabled) == ("alice", "mosquitto", True)
    env = dict(line.split("=", 1) for line in (out / ".env").read_text().splitlines() if "=" in line)
    assert env["VAGUS_LOCAL"] == str(out.resolve()) and env["VAGUS_SIM_PERSON"] == "alice"
    assert (out / "people").read_text().split() == PEOPLE
    datasources = (out / "grafana/provisioning/datasources/vagus.yaml").read_text()
    for person in PEOPLE:
        assert f"$__file{{/run/vagus/influx/{person}-read.token}}" in datasources
    assert "${" not in datasources


def test_the_broker_certificate_names_the_domain_and_the_compose_service(first):
    out, _ = first
    openssl = require_binary("openssl", "openssl")
    argv = [openssl, "verify", "-CAfile", str(out / "tls/ca.crt"), "-purpose", "sslserver", str(out / "tls/server.crt")]
    assert subprocess.run(argv, capture_output=True, check=False).returncode == 0  # noqa: S603 — a fixed argv of our own, no shell
    argv = [openssl, "x509", "-in", str(out / "tls/server.crt"), "-noout", "-ext", "subjectAltName"]
    text = subprocess.run(argv, capture_output=True, text=True, check=True).stdout  # noqa: S603 — a fixed argv of our own, no shell
    for name in ("vagus.example.org", "localhost", "mosquitto"):
        assert f"DNS:{name}" in text


def test_a_second_run_refuses_to_overwrite(first, capsys):
    out, _ = first
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    code, _ = run(out)
    assert code == 1
    assert "--rotate" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_rotate_changes_the_secrets_and_keeps_the_ca_and_the_database_setup(first):
    out, _ = first
    before = secret_files(out)
    ca_before = (out / "tls/ca.crt").read_bytes()
    code, stdout = run(out, "--rotate", "--raw-beats", "bob")
    assert code == 0
    after = secret_files(out)
    kept = {"tls/ca.key", "influxdb/admin-password", "influxdb/operator-token"}
    for name in before:
        assert (before[name] == after[name]) is (name in kept), name
    assert (out / "tls/ca.crt").read_bytes() == ca_before
    assert "VAGUS_ROTATE=1" in stdout  # how to rotate the tokens InfluxDB makes
    code, _ = run(out, "--force")
    assert code == 0
    assert (out / "tls/ca.crt").read_bytes() != ca_before
    assert json.loads((out / "vagus-init.json").read_text())["people"] == PEOPLE


def test_rotate_needs_a_first_run_and_bad_input_is_refused(tmp_path, capsys):
    assert run(tmp_path / "nothing", "--rotate")[0] == 1
    assert "run `vagus init` first" in capsys.readouterr().err
    stream = io.StringIO()
    assert main(["--people", "alice,vagus-bridge", "--out", str(tmp_path / "x")], stream) == 1
    assert main(["--people", "alice", "--raw-beats", "bob", "--out", str(tmp_path / "x")], stream) == 1
    assert main(["--people", "al ice", "--out", str(tmp_path / "x")], stream) == 1
    assert not (tmp_path / "x").exists()
    with pytest.raises(SystemExit):
        main(["--force", "--rotate"], stream)


def test_git_ignores_the_default_output_folder():
    done = subprocess.run(["/usr/bin/git", "check-ignore", "-q", "deploy/local/tls/ca.key"], cwd=ROOT, check=False)
    assert done.returncode == 0
