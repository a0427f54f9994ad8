"""Colmi ring decoding: every Colmi vector of ble-vectors.json, the strictness policy, multi-packet
reassembly, and round trips with the simulator's independent encoder (vagus.sim.colmi_encoder)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vagus.edge import colmi
from vagus.errors import PayloadError, PayloadProblem
from vagus.sim import colmi_encoder as ce


def _vec(vectors: list[dict], vid: str) -> tuple[bytes, dict]:
    v = next(v for v in vectors if v["id"] == vid)
    return bytes.fromhex(v["hex"]), v["expected"]


def _packets(data: bytes) -> list[bytes]:
    # Multi-packet vectors are stored concatenated: split every 32 hex characters (ble-vectors.md).
    return [data[i : i + 16] for i in range(0, len(data), 16)]


def _feed_all(packets: list[bytes]) -> list:
    r = colmi.ColmiReassembler()
    return [r.feed(colmi.decode_colmi(p)) for p in packets]


# ------------------------------------------------------------------------------------------ vectors


def test_realtime_hr_vector(ble_vectors):
    data, exp = _vec(ble_vectors, "colmi-realtime-hr-78")
    m = colmi.decode_colmi(data)
    assert isinstance(m, colmi.ColmiRealTimeReading)
    assert f"{m.kind_name} ({m.kind})" == exp["kind"] and m.value == exp["value"] and m.error_code == exp["error_code"]
    assert m.ok


def test_realtime_hr_error_vector(ble_vectors):
    data, exp = _vec(ble_vectors, "colmi-realtime-hr-error1")
    m = colmi.decode_colmi(data)
    assert f"{m.kind_name} ({m.kind})" == exp["kind"] and m.error_code == exp["error_code"] and not m.ok


def test_hr_log_settings_vector(ble_vectors):
    data, exp = _vec(ble_vectors, "colmi-hr-log-settings-disabled")
    m = colmi.decode_colmi(data)
    assert (m.enabled, m.interval_min) == (exp["enabled"], exp["interval_min"])


@pytest.mark.parametrize("vid", ["colmi-set-time-2024-utc", "colmi-set-time-2024-tz-minus4"])
def test_set_time_request_vectors(ble_vectors, vid):
    data, exp = _vec(ble_vectors, vid)
    r = colmi.decode_colmi_request(data)
    assert r.when == datetime.fromisoformat(exp["datetime"]) and r.when.tzinfo is UTC and r.language == 1
    assert colmi.set_time_request(datetime.fromisoformat(exp["datetime"])) == data


def test_set_time_response_vector(ble_vectors):
    data, exp = _vec(ble_vectors, "colmi-set-time-response-capabilities")
    m = colmi.decode_colmi(data)
    assert m.supports["manual_heart"] is exp["mSupportManualHeart"]
    assert m.supports["blood_sugar"] is exp["mSupportBloodSugar"]


def test_hr_log_vector(ble_vectors):
    data, exp = _vec(ble_vectors, "colmi-hr-log-24-packets")
    packets = _packets(data)
    assert len(packets) == exp["packet_count"]
    results = _feed_all(packets)
    assert all(r is None for r in results[:-1]) is exp["parse_returns_none_until_last"]
    log = results[-1]
    assert isinstance(log, colmi.ColmiHrLog)
    assert len(log.heart_rates_bpm) == exp["heart_rates_len"]
    assert log.start == datetime.fromisoformat(exp["timestamp"])
    assert log.packet_count == exp["size"] and log.readings_received == exp["index"]
    assert log.interval_min == exp["range_min"]
    # The readings are the bytes the packets carry, in order (packet 1 from byte 6, the others from byte 2).
    carried = list(packets[1][6:15]) + [b for p in packets[2:] for b in p[2:15]]
    assert list(log.heart_rates_bpm) == carried[:288]
    assert [bpm for _, bpm in log.readings()] == [b for b in carried[:288] if b]


@pytest.mark.parametrize("vid", ["colmi-steps-single", "colmi-steps-multi"])
def test_sport_detail_vectors(ble_vectors, vid):
    data, exp = _vec(ble_vectors, vid)
    results = _feed_all(_packets(data))
    assert all(r is None for r in results[:-1])
    details = results[-1]
    assert isinstance(details, colmi.ColmiSportDetails)
    assert [
        {
            "year": r.day.year,
            "month": r.day.month,
            "day": r.day.day,
            "time_index": r.time_index,
            "calories": r.calories,
            "steps": r.steps,
            "distance": r.distance_m,
        }
        for r in details.records
    ] == exp["result"]


def test_sport_no_data_vector(ble_vectors):
    data, exp = _vec(ble_vectors, "colmi-steps-nodata")
    assert exp["result"] == "NoData"
    m = colmi.decode_colmi(data)
    assert m == colmi.ColmiNoData(colmi.ColmiCommand.SPORT_DETAIL)
    assert colmi.ColmiReassembler().feed(m) == m


def test_every_colmi_vector_checksum_verifies_and_is_checked(ble_vectors):
    checked = {
        "colmi-realtime-hr-78",
        "colmi-realtime-hr-error1",
        "colmi-hr-log-settings-disabled",
        "colmi-set-time-2024-utc",
        "colmi-set-time-2024-tz-minus4",
        "colmi-set-time-response-capabilities",
        "colmi-hr-log-24-packets",
        "colmi-steps-single",
        "colmi-steps-multi",
        "colmi-steps-nodata",
    }
    vectors = [v for v in ble_vectors if v["protocol"] == "colmi"]
    assert {v["id"] for v in vectors} <= checked
    for v in vectors:
        for p in _packets(bytes.fromhex(v["hex"])):
            assert colmi.verify_packet(p) == p


# ---------------------------------------------------------------------------------- strictness policy


def test_bad_checksum_and_length_are_rejected(ble_vectors):
    data, _ = _vec(ble_vectors, "colmi-realtime-hr-78")
    for bad, problem in [
        (data[:15], PayloadProblem.TRUNCATED),
        (data + b"\x00", PayloadProblem.MALFORMED),
        (b"", PayloadProblem.EMPTY),
        (data[:15] + bytes(((data[15] + 1) & 0xFF,)), PayloadProblem.BAD_CHECKSUM),
        (data[:3] + bytes((data[3] ^ 0x01,)) + data[4:], PayloadProblem.BAD_CHECKSUM),
    ]:
        with pytest.raises(PayloadError) as info:
            colmi.decode_colmi(bad)
        assert info.value.problem is problem


@pytest.mark.parametrize(
    ("command", "payload"),
    [
        (0x03, bytes((101, 0))),  # battery above 100 %
        (0x16, bytes((1, 3, 60))),  # enabled neither 1 nor 2
        (0x15, bytes((0, 24, 0))),  # log interval 0
        (0x15, bytes((0, 1, 5))),  # a log of only its header
        (0x43, bytes((0x24, 0x1A, 0x01, 4, 0, 1))),  # BCD month 1A
        (0x43, bytes((0x24, 0x02, 0x30, 4, 0, 1))),  # 30 February
        (0x43, bytes((0x24, 0x02, 0x03, 96, 0, 1))),  # time slot 96
        (0x43, bytes((0x24, 0x02, 0x03, 4, 1, 1))),  # record 1 of 1
    ],
)
def test_malformed_fields_are_rejected(command, payload):
    with pytest.raises(PayloadError) as info:
        colmi.decode_colmi(colmi.make_packet(command, payload))
    assert info.value.problem is PayloadProblem.MALFORMED


def test_error_unknown_and_notification_packets_decode():
    err = colmi.decode_colmi(ce.encode_error(ce.Command.BATTERY))
    assert isinstance(err, colmi.ColmiError) and err.command == 0x03
    unknown = colmi.decode_colmi(colmi.make_packet(0x2F, b"\x05"))
    assert unknown == colmi.ColmiUnknown(0x2F, b"\x05" + bytes(13))
    note = colmi.decode_colmi(colmi.make_packet(0x73, b"\x0c\x50"))
    assert isinstance(note, colmi.ColmiNotification) and note.kind == 0x0C and note.payload[0] == 0x50


def test_charging_byte_above_one_warns():
    b = colmi.decode_colmi(colmi.make_packet(0x03, bytes((50, 7))))
    assert b.charging and b.warnings


def test_reassembler_rejects_out_of_sequence_and_recovers():
    packets = ce.encode_hr_log(date(2024, 8, 10), 30, [60] * 48)
    r = colmi.ColmiReassembler()
    with pytest.raises(PayloadError) as info:  # data before its header
        r.feed(packets[1])
    assert info.value.problem is PayloadProblem.OUT_OF_SEQUENCE
    r.feed(packets[0])
    r.feed(packets[1])
    with pytest.raises(PayloadError):  # packet 3 where 2 was due
        r.feed(packets[3])
    assert r.dropped == 1
    results = [r.feed(p) for p in packets]  # a clean retry after the failure
    assert isinstance(results[-1], colmi.ColmiHrLog) and results[-1].heart_rates_bpm == (60,) * 48
    r.feed(packets[0])
    r.feed(packets[0])  # a new header restarts the reply
    assert r.dropped == 2
    assert r.feed(colmi.decode_colmi(ce.encode_hr_log_no_data())) == colmi.ColmiNoData(colmi.ColmiCommand.HR_LOG)
    assert r.dropped == 3
    with pytest.raises(PayloadError):  # sport record without header
        r.feed(ce.encode_sport_details([ce.SportDetail(date(2024, 1, 1), 5, 10, 1, 1)])[1])
    assert r.feed(ce.encode_battery(50, False)) is None  # single-packet messages pass through


def test_host_requests_parse_in_the_simulated_ring():
    start = ce.parse_request(colmi.real_time_start_request())
    assert start.message == ce.RealTimeStart(ce.RealTimeKind.HEART_RATE, ce.RealTimeAction.START)
    keep = ce.parse_request(colmi.real_time_start_request(keep_alive=True))
    assert keep.message.action == ce.RealTimeAction.CONTINUE
    assert ce.parse_request(colmi.real_time_stop_request()).message == ce.RealTimeStop(ce.RealTimeKind.HEART_RATE)
    assert ce.parse_request(colmi.battery_request()).message == ce.BatteryRequest()
    day = datetime(2024, 8, 10, tzinfo=UTC)
    assert ce.parse_request(colmi.hr_log_request(day)).message == ce.HrLogRequest(day)
    with pytest.raises(ValueError):
        colmi.hr_log_request(datetime(2024, 8, 10))
    with pytest.raises(ValueError):
        colmi.make_packet(0x01, bytes(15))


# ----------------------------------------------------------------- round trips with the simulator


@given(st.sampled_from(list(ce.RealTimeKind)), st.integers(0, 255), st.integers(0, 255))
def test_real_time_round_trip(kind, value, error):
    m = colmi.decode_colmi(ce.encode_real_time_reading(ce.RealTimeReading(kind, value, error)))
    assert (m.kind, m.value, m.error_code) == (kind, value, error)
    assert m.ok is (error == 0 and value > 0)


@given(st.integers(0, 100), st.booleans())
def test_battery_round_trip(level, charging):
    assert colmi.decode_colmi(ce.encode_battery(level, charging)) == colmi.ColmiBattery(level, charging)


@given(st.booleans(), st.integers(1, 255), st.sampled_from([1, 2]))
def test_hr_log_settings_round_trip(enabled, interval, sub):
    m = colmi.decode_colmi(ce.encode_hr_log_settings(ce.HrLogSettings(enabled, interval), sub_command=sub))
    assert (m.sub_command, m.enabled, m.interval_min) == (sub, enabled, interval)


_INTERVALS = [i for i in range(1, 256) if 1440 % i == 0 and 1 + 1 + -(-(1440 // i - 9) // 13) < 255]


@given(st.dates(date(2000, 1, 1), date(2099, 12, 31)), st.sampled_from(_INTERVALS), st.data())
def test_hr_log_round_trip(day, interval, data):
    slots = 1440 // interval
    values = data.draw(st.lists(st.integers(0, 255), max_size=slots))
    log = _feed_all(list(ce.encode_hr_log(day, interval, values)))[-1]
    assert log.start == datetime(day.year, day.month, day.day, tzinfo=UTC)
    assert log.interval_min == interval
    assert list(log.heart_rates_bpm) == values + [0] * (slots - len(values))
    step = timedelta(minutes=interval)
    assert log.readings() == [(log.start + i * step, v) for i, v in enumerate(values) if v]


detail = st.builds(
    ce.SportDetail,
    st.dates(date(2000, 1, 1), date(2099, 12, 31)),
    st.integers(0, 95),
    st.integers(0, 65535).map(lambda c: c * 10),
    st.integers(0, 65535),
    st.integers(0, 65535),
)


@given(st.lists(detail, min_size=1, max_size=20))
def test_sport_details_round_trip(details):
    got = _feed_all(list(ce.encode_sport_details(details)))[-1]
    assert got.calories_x10
    assert [(r.day, r.time_index, r.calories, r.steps, r.distance_m) for r in got.records] == [
        (d.day, d.time_index, d.calories, d.steps, d.distance_m) for d in details
    ]


@given(st.datetimes(datetime(2000, 1, 2), datetime(2099, 12, 30), timezones=st.just(timezone(timedelta(hours=-4)))))
def test_set_time_round_trip(when):
    when = when.replace(microsecond=0)
    packet = ce.SetTimeRequest(when).to_packet()
    assert colmi.set_time_request(when) == packet
    assert colmi.decode_colmi_request(packet).when == when


@given(st.binary(min_size=14, max_size=14))
def test_set_time_response_round_trip(block):
    m = colmi.decode_colmi(ce.encode_set_time_response(block))
    assert m.capabilities == block
    for name, (i, mask) in ce.CAPABILITY_BITS.items():
        assert m.supports[name] is bool(block[i] & mask)
