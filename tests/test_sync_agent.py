"""`vagus run --sim` with [sync] enabled, end to end through real servers: the agent process →
Mosquitto → `vagus bridge` → VictoriaMetrics. Nothing is lost: every indicator row the agent stored
is either in the database or still waiting in its outbox."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.servers import PASSWORDS, running_bridge, running_mosquitto, running_victoria_metrics, wait_until

VAGUS = Path(sys.executable).parent / "vagus"

pytestmark = pytest.mark.timeout(180)


def test_the_agent_publishes_what_it_stores(tmp_path):
    with running_mosquitto() as broker, running_victoria_metrics() as db, running_bridge(broker, db):
        config = tmp_path / "agent.toml"
        config.write_text(
            f'[sync]\nenabled = true\nperson = "alice"\nhost = "127.0.0.1"\nport = {broker.port}\nresend_after_s = 2\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAGUS_")}
        env.update(VAGUS_MQTT_PASSWORD=PASSWORDS["alice"], XDG_CONFIG_HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path))
        store = tmp_path / "agent.db"
        out = subprocess.run(  # noqa: S603 — a fixed argv of our own, no shell
            [
                str(VAGUS),
                "run",
                "--sim",
                "--config",
                str(config),
                "--db",
                str(store),
                "--speed",
                "30",
                "--duration",
                "12",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert out.returncode == 0, out.stderr
        assert PASSWORDS["alice"] not in out.stdout + out.stderr  # no secret in the output
        with sqlite3.connect(store) as con:
            stored = {
                round(t * 1000)
                for (t,) in con.execute("SELECT t_end_utc_s FROM indicators WHERE window_nominal_s = 60")
            }
            pending = con.execute("SELECT count(*) FROM outbox").fetchone()[0]
            beats_queued = con.execute("SELECT count(*) FROM outbox WHERE kind = 'beats'").fetchone()[0]
            beats_stored = con.execute("SELECT count(*) FROM beats").fetchone()[0]
        assert len(stored) > 50
        # Raw beats are a privacy choice, off by default: the store has them, nothing took them out.
        assert beats_stored > 100 and beats_queued == 0
        assert db.export('{__name__=~"beats_.*"}') == []

        def written() -> set[int]:
            return {t for t, _ in db.samples("indicators_rmssd_ms", person="alice", window="60")}

        # The bridge may still be writing the last batch the agent sent before it stopped.
        wait_until(lambda: len(written()) >= len(stored) - pending, timeout_s=30, what="the bridge's writes")
        got = written()
        assert got <= stored  # nothing invented
        assert len(stored - got) <= pending  # nothing lost: the rest waits in the outbox
        assert len(got) >= len(stored) // 2


# -- check-ins in, nudges and device status out (real Mosquitto) --------------------------------------


def companion_broker():
    """Mosquitto with the shipped ACL and, besides the usual users, alice's companion (Home Assistant)."""
    from tests.servers import Mosquitto, serving, workdir

    root = workdir("mosquitto-companion")
    users = PASSWORDS | {"alice-companion": "companion-pw"}
    return serving(root, Mosquitto(root, users=users).start()), users


def link_as(broker, username, password, **kwargs):
    from vagus.sync._mqtt import MqttLink, MqttProtocol
    from vagus.sync.settings import Endpoint

    link = MqttLink(
        Endpoint("127.0.0.1", broker.port, username, password),
        client_id=f"test-{username}-{time.monotonic_ns()}",
        protocol=MqttProtocol.V5,
        **kwargs,
    )
    link.start()
    assert link.wait_connected(10)
    return link


def agent(tmp_path, broker, password, **kwargs):
    from tests.servers import edge_outbox
    from vagus.clock import RealClock
    from vagus.sync.publisher import Publisher, PublisherSettings
    from vagus.sync.settings import Endpoint

    outbox = edge_outbox(tmp_path / "agent.db")
    publisher = Publisher(
        outbox=outbox,
        endpoint=Endpoint("127.0.0.1", broker.port, "alice", password),
        settings=PublisherSettings(person="alice", pump_interval_s=0.1),
        clock=RealClock(),
        **kwargs,
    )
    return publisher, outbox


def test_the_agent_keeps_check_ins_from_home_assistant_and_ignores_bad_ones(tmp_path, caplog):
    from vagus.edge.checkins import checkins, record_received
    from vagus.sync import Checkin, Kind, Topics, encode

    store = tmp_path / "agent.db"
    received: list[Checkin] = []
    threads: set[str] = set()

    def on_checkin(message: Checkin) -> None:
        threads.add(threading.current_thread().name)
        received.append(message)
        record_received(store, message)

    context, users = companion_broker()
    with context as broker:
        publisher, _ = agent(tmp_path, broker, users["alice"], on_checkin=on_checkin)
        publisher.start()
        assert publisher.wait_connected(10)
        home_assistant = link_as(broker, "alice-companion", users["alice-companion"])
        topic = Topics("vagus").topic("alice", Kind.CHECKIN)
        good = Checkin(
            person="alice",
            t_utc_ms=round(time.time() * 1000),
            checkin_id="ha-secret-7",
            source="home_assistant",
            answer="stressed",
            self_stress_1to5=4,
            nudge_id="n-1",
        )
        try:
            time.sleep(0.5)  # the agent's subscription is made on connect; give the SUBACK a moment
            with caplog.at_level(logging.INFO):
                home_assistant.publish(topic, b"not json")
                home_assistant.publish(topic, encode(good).replace(b'"stressed"', b'"sad"'))
                home_assistant.publish(topic, encode(good).replace(b'"person":"alice"', b'"person":"bob"'))
                home_assistant.publish(topic, encode(good))
                home_assistant.publish(topic, encode(good))  # a QoS 1 duplicate, as a broker may deliver
                wait_until(lambda: len(received) == 2, timeout_s=10, what="the check-ins")
        finally:
            home_assistant.stop()
            publisher.stop()
    assert received == [good, good]
    assert publisher.counters.bad_checkins == 3 and publisher.counters.checkins == 2
    assert threads == {"vagus-sync-publisher"}  # never paho's network thread
    [kept] = checkins(store)
    assert (kept.checkin_id, kept.answer, kept.self_stress_1to5) == ("ha-secret-7", "stressed", 4)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "invalid check-in" in logged
    assert "ha-secret-7" not in logged and "sad" not in logged and "bob" not in logged  # no personal data


def test_nudges_and_device_status_reach_a_subscriber_with_what_a_phone_needs(tmp_path):
    from vagus.sync import Kind, Topics, decode
    from vagus.sync.schema import DeviceStatus, Nudge, Resource

    @dataclasses.dataclass(frozen=True)
    class Breathing:
        rate_brpm: float = 6.0
        inhale_s: float = 4.0
        exhale_s: float = 6.0
        duration_s: float = 120.0

    @dataclasses.dataclass(frozen=True)
    class Decision:  # the shape of the edge's NudgeDecision
        nudge_id: str
        kind: str
        text: str
        stress_score: float | None
        breathing: Breathing | None
        t_utc_s: float
        held_back: bool = False

    topics = Topics("vagus")
    got: list[tuple[str, bytes]] = []
    # The shipped ACL: alice's companion (a phone, Home Assistant) reads her nudges and device status.
    context, users = companion_broker()
    with context as broker:
        publisher, outbox = agent(tmp_path, broker, users["alice"])
        watcher = link_as(
            broker,
            "alice-companion",
            users["alice-companion"],
            subscriptions=[(topics.topic("alice", Kind.NUDGE), 1), (topics.topic("alice", Kind.DEVICE), 1)],
            on_message=lambda m: got.append((m.topic, m.payload)),
        )
        publisher.start()
        try:
            time.sleep(0.5)
            now = time.time()
            breathe = Decision("n-1", "slow_breathing", "Want a 2-minute breathing break?", 81.0, Breathing(), now)
            assert publisher.submit_nudge_decision(breathe) is not None
            assert publisher.submit_nudge_decision(dataclasses.replace(breathe, nudge_id="n-2", held_back=True)) is None
            publisher.submit_nudge(
                nudge_id="s-1",
                nudge="support",
                text="You said you could use some help.",
                t_utc_ms=round(now * 1000),
                resources=[Resource(name="Ana", how="text her")],
            )
            publisher.submit_device_status(
                device="d-strap1", t_utc_ms=round(now * 1000), link_state="streaming", battery_pct=64
            )
            wait_until(lambda: len(got) >= 3, timeout_s=10, what="the messages")
        finally:
            watcher.stop()
            publisher.stop()
    messages = {topic.rsplit("/", 1)[1]: [] for topic, _ in got}
    for topic, payload in got:
        kind = Kind(topic.rsplit("/", 1)[1])
        messages[kind.value].append(decode(kind, payload))
    nudges = messages["nudge"]
    assert [n.nudge_id for n in nudges] == ["n-1", "s-1"]  # the held-back one never left the device
    breathing = nudges[0]
    assert isinstance(breathing, Nudge)
    assert (breathing.rate_brpm, breathing.inhale_s, breathing.exhale_s, breathing.duration_s) == (6.0, 4.0, 6.0, 120.0)
    assert breathing.title and breathing.stress_score == 81.0 and breathing.t_utc_ms == round(now * 1000)
    assert nudges[1].resources == (Resource(name="Ana", how="text her"),) and nudges[1].title
    [device] = messages["device"]
    assert isinstance(device, DeviceStatus)
    assert (device.device, device.link_state, device.battery_pct) == ("d-strap1", "streaming", 64)
    assert outbox.pending("alice") == 3  # no bridge here: they wait for its ack


# -- the running agent: nudges, check-ins, support, device status, Home Assistant -------------------

STRESS_SCENARIO = """
description = "Calm, then a long stress episode"
start = "10:00"
duration = "1h"

[[segment]]
at = "10:00"
state = "rest"

[[segment]]
at = "10:25"
state = "stress"
duration = "35min"

[[device]]
name = "strap"
profile = "h10"
"""


def local_zone_at(hour: int, now_utc_s: float | None = None) -> str:
    """A fixed-offset POSIX ``TZ`` under which the local time is ``hour``:00 now (± 30 min).

    `vagus run --sim` starts its simulated clock at the wall clock, and the agent learns the
    baseline only from awake hours (07–22 local, edge/src/stress_stage.py): a subprocess started
    at 06:40 or 23:00 learns nothing, or only stress minutes, before the episode. Pinning the
    agent's zone makes the run the same whatever the time of day the test runs at."""
    now = time.time() if now_utc_s is None else now_utc_s
    minute_of_day = round(now / 60.0) % 1440
    shift = (hour * 60 - minute_of_day) % 1440  # minutes to add to UTC
    if shift > 720:
        shift -= 1440
    shift = 30 * round(shift / 30)  # half hours, as real zones have
    sign = "-" if shift >= 0 else "+"  # POSIX: the offset is what local time adds to reach UTC
    return f"VAG{sign}{abs(shift) // 60}:{abs(shift) % 60:02d}"


def test_local_zone_at_sets_the_local_hour():
    for now in (0.0, 6.7 * 3600, 12.25 * 3600, 23.9 * 3600, 1_795_762_707.0):
        zone = local_zone_at(10, now)
        script = (
            f"import os, time, datetime; time.tzset(); print(datetime.datetime.fromtimestamp({now}).strftime('%H %M'))"
        )
        out = subprocess.run(  # noqa: S603 — our own interpreter and a fixed script
            [sys.executable, "-c", script], env={**os.environ, "TZ": zone}, capture_output=True, text=True, check=True
        ).stdout.split()
        minutes = int(out[0]) * 60 + int(out[1])
        assert abs(minutes - 600) <= 30, (now, zone, out)


def test_vagus_run_nudges_keeps_check_ins_and_shows_support_through_mqtt(tmp_path):
    # `vagus run --sim` with [sync] and Home Assistant on, against real Mosquitto with the shipped ACL;
    # alice's companion (as Home Assistant would) watches her topics and answers "need help".
    from vagus.sync import Checkin, Kind, Topics, decode, encode
    from vagus.sync.schema import DeviceStatus, Nudge

    (tmp_path / "stress.toml").write_text(STRESS_SCENARIO)
    context, users = companion_broker()
    topics = Topics("vagus")
    got: list[tuple[str, bytes]] = []
    with context as broker:
        config = tmp_path / "agent.toml"
        config.write_text(
            f'[sync]\nenabled = true\nperson = "alice"\nhost = "127.0.0.1"\nport = {broker.port}\n'
            "home_assistant = true\n"
            # A fresh baseline scores a stress episode lower than a learned one: a low threshold and a
            # short run of high windows make this hour nudge; no quiet hours, whatever the clock says.
            '[nudges]\nthreshold_score = 40\nsustained_s = 120\nmin_spacing_s = 600\nquiet_start = "00:00"\n'
            'quiet_end = "00:00"\ndesktop = false\n'
            '[[safety.resources]]\nname = "Ana (sister)"\nphone = "+44 20 7946 0000"\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAGUS_")}
        env.update(VAGUS_MQTT_PASSWORD=users["alice"], XDG_CONFIG_HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path))
        # The scenario's hour, 10:00 local, whenever the test runs (see local_zone_at).
        env["TZ"] = local_zone_at(10)
        companion = link_as(
            broker,
            "alice-companion",
            users["alice-companion"],
            subscriptions=[
                (topics.topic("alice", Kind.NUDGE), 1),
                (topics.topic("alice", Kind.DEVICE), 1),
                (topics.topic("alice", Kind.STATUS), 1),
            ],
            on_message=lambda m: got.append((m.topic, m.payload)),
        )
        store = tmp_path / "agent.db"
        agent = subprocess.Popen(  # noqa: S603 — a fixed argv of our own, no shell
            [
                *(str(VAGUS), "run", "--sim", "--scenario", str(tmp_path / "stress.toml")),
                *("--config", str(config), "--db", str(store), "--speed", "90", "--seed", "3"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:

            def online() -> bool:
                return any(t.endswith("/status") and b'"online"' in p for t, p in got)

            wait_until(online, timeout_s=30, what="the agent's online status")
            time.sleep(0.5)  # its check-in subscription is made in the same connect
            need_help = Checkin(
                person="alice",
                t_utc_ms=round(time.time() * 1000),
                checkin_id="ha-1",
                source="home_assistant",
                answer="need_help",
            )
            companion.publish(topics.topic("alice", Kind.CHECKIN), encode(need_help))
            stdout, stderr = agent.communicate(timeout=150)
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.communicate()
        assert agent.returncode == 0, stderr
        with contextlib.closing(sqlite3.connect(store)) as con:
            sent_ids = {row[0] for row in con.execute("SELECT nudge_id FROM nudge_events WHERE sent = 1")}

        def nudge_ids() -> set[str]:
            return {decode(Kind.NUDGE, p).nudge_id for t, p in got if t.endswith("/nudge")}

        # Nudges go out ahead of the summaries' backlog (no bridge here confirms any): all within seconds.
        wait_until(lambda: sent_ids <= nudge_ids(), timeout_s=10, what="the nudges")
        discovered: list[tuple[str, bytes]] = []
        ha = link_as(
            broker,
            "alice-companion",
            users["alice-companion"],
            subscriptions=[("homeassistant/+/alice/+/config", 1)],
            on_message=lambda m: discovered.append((m.topic, m.payload)),
        )
        try:  # retained: a Home Assistant that starts later still finds them
            wait_until(lambda: len(discovered) >= 6, timeout_s=10, what="the retained discovery configs")
        finally:
            ha.stop()
            companion.stop()

    # At least once: with no bridge to confirm them, the agent sends them again; a phone keys on the id.
    nudges = list({n.nudge_id: n for n in (decode(Kind.NUDGE, p) for t, p in got if t.endswith("/nudge"))}.values())
    assert all(isinstance(n, Nudge) for n in nudges)
    support = [n for n in nudges if n.nudge == "support"]
    breathing = [n for n in nudges if n.nudge == "slow_breathing"]
    assert len(support) == 1  # once a day, however many check-ins
    assert [(r.name, r.how) for r in support[0].resources] == [("Ana (sister)", "phone +44 20 7946 0000")]
    assert breathing
    assert all(n.rate_brpm == 6.0 and n.duration_s == 120.0 for n in breathing)
    with sqlite3.connect(store) as con:
        sent = con.execute("SELECT nudge_id FROM nudge_events WHERE sent = 1 ORDER BY t_utc_s").fetchall()
        kept = con.execute("SELECT checkin_id, source, answer FROM checkins").fetchall()
        shown = con.execute("SELECT reason FROM safety_shown").fetchall()
    assert [n.nudge_id for n in breathing] == [row[0] for row in sent]  # every nudge sent, and only those
    assert kept == [("ha-1", "home_assistant", "need_help")]
    assert shown == [("need_help",)]
    assert "Support, if you want it" in stdout and "Ana (sister): phone +44 20 7946 0000" in stdout
    assert "nudge: " in stdout

    statuses = [decode(Kind.DEVICE, p) for t, p in got if t.endswith("/device")]
    assert statuses and all(isinstance(s, DeviceStatus) for s in statuses)
    devices = {s.device for s in statuses}
    assert len(devices) == 1 and next(iter(devices)).startswith("d-")  # a pseudonym, not the device's name
    assert "streaming" in {s.link_state for s in statuses} and 100 in {s.battery_pct for s in statuses}
    configs = [json.loads(p) for _, p in discovered]
    assert {c["state_topic"] for c in configs} == {topics.topic("alice", k) for k in (Kind.SUMMARY, Kind.DEVICE)}
    assert all(next(iter(devices)) in c["value_template"] for c in configs)


def test_a_night_the_agent_found_reaches_the_database(tmp_path):
    from vagus.signal.sleep import NightSummary

    onset = 1_795_650_000.0
    night = NightSummary(
        onset_utc_s=onset,
        wake_utc_s=onset + 7.5 * 3600,
        asleep_min=421,
        lowest_hr_bpm=49.0,
        mean_hr_bpm=53.5,
        rmssd_ms=58.0,
        recovery="below",
        recovery_sd=-1.2,
    )
    with running_mosquitto() as broker, running_victoria_metrics() as db, running_bridge(broker, db):
        publisher, outbox = agent(tmp_path, broker, PASSWORDS["alice"])
        publisher.start()
        try:
            publisher.submit_night(night)
            wait_until(lambda: outbox.pending("alice") == 0, timeout_s=20, what="the bridge's ack")
        finally:
            publisher.stop()
        got = {
            name: db.samples(f"night_{name}", person="alice")
            for name in ("asleep_min", "in_bed_min", "lowest_hr_bpm", "rmssd_ms", "ln_rmssd", "recovery_code")
        }
    onset_ms = round(onset * 1000)
    assert got["asleep_min"] == [(onset_ms, 421)] and got["in_bed_min"] == [(onset_ms, 450)]
    assert got["lowest_hr_bpm"] == [(onset_ms, 49.0)] and got["rmssd_ms"] == [(onset_ms, 58.0)]
    assert got["ln_rmssd"][0][1] == pytest.approx(math.log(58.0))
    assert got["recovery_code"] == [(onset_ms, 1)]  # docs/topics.md: 1 below
