"""Timelines and scenario files: every built-in loads, bad files name the key, labels match segments."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vagus.sim.physiology import State
from vagus.sim.scenario import (
    DeviceEvent,
    EventKind,
    ScenarioError,
    Segment,
    Timeline,
    builtin_names,
    load_builtin,
    load_scenario,
    parse_duration_s,
    parse_scenario,
)

HEADER = 'start = "2026-11-25T22:00"\nduration = "24h"\n'


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_every_builtin_loads_and_covers_its_duration():
    names = builtin_names()
    assert {"workday", "resting", "night", "workout"} <= set(names)
    for name in names:
        scenario = load_builtin(name)
        timeline = scenario.timeline
        assert scenario.name == name and scenario.source == f"builtin:{name}"
        assert timeline.segments[0].start_s == 0 and timeline.segments[-1].end_s == timeline.duration_s
        assert len(timeline.state_codes()) == timeline.duration_s


def test_workday_has_the_day_it_promises():
    s = load_builtin("workday")
    t = s.timeline
    assert t.start == datetime(2026, 11, 25, 22, 0) and t.start_of_day_s == 22 * 3600
    assert t.duration_s == 86400

    def at(clock_h: float) -> Segment:
        return t.segment_at(((clock_h - 22) % 24) * 3600)

    assert at(23.0).state is State.SLEEP and at(6.99).state is State.SLEEP and at(7.0).state is State.REST
    assert t.segment_at(3600 - 1).state is State.REST
    stress = [seg for seg in t.segments if seg.state is State.STRESS]
    assert len(stress) == 2
    paced = [seg for seg in t.segments if seg.paced_breathing_brpm is not None]
    assert len(paced) == 1 and paced[0].paced_breathing_brpm == 6.0 and paced[0].duration_s == 300
    assert paced[0].start_s == stress[0].end_s  # the breathing break follows the first stress episode
    assert any(seg.state is State.EXERCISE for seg in t.segments)
    assert [d.profile for d in s.devices] == ["h10", "hr_watch", "colmi_ring"]
    assert DeviceEvent(EventKind.CONTACT_LOSS, int(14.55 * 3600), 45, "strap") in s.events


def test_clock_times_roll_over_midnight_and_gaps_take_the_default_state():
    s = parse_scenario(
        HEADER
        + textwrap.dedent("""
            default_state = "rest"
            [[segment]]
            at = "23:00"
            state = "sleep"
            [[segment]]
            at = "07:00"
            state = "stress"
            duration = "10min"
            [[segment]]
            at = "+10h"
            state = "exercise"
            duration = "90s"
            """)
    )
    got = [(seg.start_s, seg.end_s, seg.state) for seg in s.timeline.segments]
    assert got == [
        (0, 3600, State.REST),
        (3600, 9 * 3600, State.SLEEP),
        (9 * 3600, 9 * 3600 + 600, State.STRESS),
        (9 * 3600 + 600, 10 * 3600, State.REST),
        (10 * 3600, 10 * 3600 + 90, State.EXERCISE),
        (10 * 3600 + 90, 86400, State.REST),
    ]


@pytest.mark.parametrize(
    ("body", "key", "value"),
    [
        ('[[segment]]\nat = "22:00"\nstate = "slep"\n', "segment[0].state", "'slep'"),
        ('[[segment]]\nat = "25:00"\nstate = "rest"\n', "segment[0].at", "'25:00'"),
        ('[[segment]]\nat = "22:00"\nstate = "rest"\nduration = "0s"\n', "segment[0].duration", "'0s'"),
        ('[[segment]]\nat = "22:00"\nstate = "rest"\nduration = "-5min"\n', "segment[0].duration", "'-5min'"),
        ('[[segment]]\nat = "22:00"\nstate = "rest"\nduration = "soon"\n', "segment[0].duration", "'soon'"),
        (
            '[[segment]]\nat = "22:00"\nstate = "stress"\nduration = "2h"\n[[segment]]\nat = "23:00"\nstate = "rest"\n',
            "segment[1].at",
            "'23:00'",
        ),
        (
            '[[segment]]\nat = "+2h"\nstate = "rest"\n[[segment]]\nat = "+1h"\nstate = "sleep"\n',
            "segment[1].at",
            "'+1h'",
        ),
        (
            '[[segment]]\nat = "2026-11-26T08:00"\nstate = "rest"\n'
            '[[segment]]\nat = "2026-11-26T07:00"\nstate = "rest"\n',
            "segment[1].at",
            "'2026-11-26T07:00'",
        ),
        (
            '[[segment]]\nat = "23:00"\nstate = "rest"\n[[segment]]\nat = "23:00"\nstate = "sleep"\n',
            "segment[1].at",
            "'23:00'",
        ),
        ('[[segment]]\nat = "22:00"\nstate = "rest"\nspeed = 3\n', "segment[0].speed", "3"),
        ('[[segment]]\nat = "22:00"\nstate = "rest"\npaced_breathing_brpm = 60\n', "paced_breathing_brpm", "60"),
        (
            '[[segment]]\nat = "22:00"\nstate = "rest"\n[[device]]\nname = "x"\nprofile = "fitbit"\n',
            "device[0].profile",
            "'fitbit'",
        ),
        (
            '[[segment]]\nat = "22:00"\nstate = "rest"\n[[event]]\nkind = "melt"\nat = "23:00"\nduration = "1min"\n',
            "event[0].kind",
            "'melt'",
        ),
        (
            '[[segment]]\nat = "22:00"\nstate = "rest"\n[[device]]\nname = "strap"\nprofile = "h10"\n'
            '[[event]]\nkind = "disconnect"\nat = "23:00"\nduration = "1min"\ndevice = "ring"\n',
            "event[0].device",
            "'ring'",
        ),
        (
            '[[segment]]\nat = "22:00"\nstate = "rest"\n'
            '[[event]]\nkind = "non_wear"\nat = "23:00"\nduration = "0min"\n',
            "event[0].duration",
            "'0min'",
        ),
        (
            '[[segment]]\nat = "22:00"\nstate = "rest"\n[[people]]\nresting_hr_bpm = 500\n',
            "people[0]",
            "resting_hr_bpm",
        ),
        ('[[segment]]\nat = "22:00"\nstate = "rest"\n[[people]]\nshoe_size = 44\n', "people[0].shoe_size", "44"),
    ],
)
def test_bad_files_name_the_file_the_key_and_the_value(tmp_path, body, key, value):
    path = _write(tmp_path, HEADER + body)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert str(path) in message and key in message and value in message, message


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ('start = "yesterday"\nduration = "1h"\n', "start"),
        ('start = "10:00"\nduration = "0h"\n', "duration"),
        ('start = "10:00"\nduration = "1h"\nseed = -3\n', "seed"),
        ('start = "10:00"\nduration = "1h"\ncolour = "red"\n', "colour"),
        ('start = "10:00+02:00"\nduration = "1h"\n', "start"),
    ],
)
def test_bad_headers_name_the_key(tmp_path, header, key):
    path = _write(tmp_path, header + '[[segment]]\nat = "10:00"\nstate = "rest"\n')
    with pytest.raises(ScenarioError, match=rf"{path}.*{key}"):
        load_scenario(path)


def test_missing_segments_bad_toml_and_missing_files_are_clear(tmp_path):
    with pytest.raises(ScenarioError, match="segment"):
        load_scenario(_write(tmp_path, HEADER))
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(_write(tmp_path, "start = \n"))
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "absent.toml")
    with pytest.raises(ScenarioError, match="unknown built-in"):
        load_builtin("nope")


def test_people_entries_override_the_drawn_person():
    s = parse_scenario(
        'start = "10:00"\nduration = "1h"\nseed = 4\n[[segment]]\nat = "10:00"\nstate = "rest"\n'
        '[[people]]\nperson_id = "alice"\nresting_hr_bpm = 58.0\n[[people]]\n'
    )
    from vagus.sim.population import draw_population

    drawn = draw_population(2, seed=4)
    assert s.people[0].person_id == "alice" and s.people[0].resting_hr_bpm == 58.0
    assert s.people[0].rmssd_rest_ms == drawn[0].rmssd_rest_ms
    assert s.people[1] == drawn[1]


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("5min", 300), ("1h30min", 5400), ("24h", 86400), ("2d", 172800), (45, 45)]
)
def test_parse_duration(text, seconds):
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["", "0s", "1.5s", "5 minutes", "h", -3, True])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration_s(text)


def test_timeline_rejects_gaps_overlaps_and_bad_segments():
    with pytest.raises(ScenarioError, match="gap"):
        Timeline((Segment(0, 10, State.REST), Segment(11, 20, State.SLEEP)))
    with pytest.raises(ScenarioError, match="overlap"):
        Timeline((Segment(0, 10, State.REST), Segment(9, 20, State.SLEEP)))
    with pytest.raises(ScenarioError, match="start at 0"):
        Timeline((Segment(5, 10, State.REST),))
    with pytest.raises(ScenarioError):
        Segment(10, 10, State.REST)
    with pytest.raises(ValueError):
        Segment(0, 10, "nap")  # type: ignore[arg-type]
    constant = Timeline.constant("stress", 120)
    assert constant.duration_s == 120 and set(constant.state_codes().tolist()) == {State.STRESS.code}


_STATES = st.sampled_from(list(State))
_SEGMENTS = st.lists(st.tuples(st.integers(1, 5000), _STATES, st.booleans()), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(_SEGMENTS)
def test_random_segment_lists_build_contiguous_timelines_with_matching_labels(spec):
    segments, t = [], 0
    for length, state, paced in spec:
        segments.append(Segment(t, t + length, state, 6.0 if paced else None))
        t += length
    timeline = Timeline(tuple(segments))
    codes = timeline.state_codes()
    assert len(codes) == timeline.duration_s == t
    for seg in segments:
        assert np.all(codes[seg.start_s : seg.end_s] == seg.state.code)
        assert timeline.segment_at(seg.start_s) == seg and timeline.segment_at(seg.end_s - 1) == seg


@settings(max_examples=60, deadline=None)
@given(_SEGMENTS, st.integers(0, 86399))
def test_random_scenario_files_parse_to_the_segments_they_list(spec, start_of_day_s):
    hh, rest = divmod(start_of_day_s, 3600)
    lines = [f'start = "{hh:02d}:{rest // 60:02d}:{rest % 60:02d}"', f"duration = {sum(s[0] for s in spec)}"]
    offset = 0
    for length, state, paced in spec:
        lines += [
            "[[segment]]",
            f'at = "+{offset}s"' if offset else f'at = "{hh:02d}:{rest // 60:02d}:{rest % 60:02d}"',
        ]
        lines += [f'state = "{state.value}"', f'duration = "{length}s"']
        if paced:
            lines.append("paced_breathing_brpm = 6")
        offset += length
    timeline = parse_scenario("\n".join(lines)).timeline
    assert timeline.start_of_day_s == start_of_day_s
    got = [(s.duration_s, s.state, s.paced_breathing_brpm is not None) for s in timeline.segments]
    assert got == [(length, state, paced) for length, state, paced in spec]
    expected = np.repeat([s.code for _, s, _ in spec], [length for length, _, _ in spec])
    np.testing.assert_array_equal(timeline.state_codes(), expected)
