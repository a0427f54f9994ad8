"""Polar devices with the PMD service: the H10-like strap and the Verity Sense-like optical sensor.

The host reads the control point for the feature bitmap, asks for a measurement's settings,
starts it with chosen settings, and gets data frames on the data characteristic until it stops
the measurement or the link drops (ble.md §2; ``BlePMDClient.kt``). Requests are answered with
the SDK's status codes: an unsupported type, a setting value outside the offered list, or a
start of a running measurement each get their own error, as the real devices do.

Frame sizes: the H10 negotiates an ATT MTU of 232 (assumption, from the 73-sample ECG frames
commonly logged from it: (232 − 3 − 10) // 3 = 73); with that MTU an int16 ACC frame holds 36
samples. Frame timestamps are the last sample's time in ns since 2000-01-01 (PmdDataFrame.kt).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import gatt_info as gatt
from . import pmd_encoder as pmd
from .device import Notification, StreamChanges
from .firmware import HrsFirmware, WearerSignals
from .hrs_stream import HrsBehaviour
from .waveforms import acceleration_mg, ecg_microvolts

__all__ = ["H10Firmware", "VerityFirmware"]

_MTU_PAYLOAD = 232 - 3
_ECG_SAMPLES_PER_FRAME = (_MTU_PAYLOAD - 10) // 3
_ACC_SAMPLES_PER_FRAME = (_MTU_PAYLOAD - 10) // 6
VERITY_ACC_FACTOR = 1 / 4096  # exact in float32
_CHUNK_S = 60.0  # waveforms are generated a minute at a time, then cut into frames
_PPI_PERIOD_S = 1.0

S = pmd.SettingType


@dataclass(frozen=True, slots=True)
class _Offer:
    """The settings a device offers for one measurement (its GET_MEASUREMENT_SETTINGS answer)."""

    settings: Mapping[pmd.SettingType, tuple[int | float, ...]]

    def choose(
        self, requested: Mapping[pmd.SettingType, tuple[int | float, ...]]
    ) -> dict[pmd.SettingType, int | float]:
        """The settings to run with; raises PmdRequestError with the SDK's status for a bad value."""
        errors = {
            S.SAMPLE_RATE: pmd.ControlPointStatus.INVALID_SAMPLE_RATE,
            S.RESOLUTION: pmd.ControlPointStatus.INVALID_RESOLUTION,
            S.RANGE: pmd.ControlPointStatus.INVALID_RANGE,
            S.CHANNELS: pmd.ControlPointStatus.INVALID_NUMBER_OF_CHANNELS,
        }
        chosen = {k: v[0] for k, v in self.settings.items()}
        for key, values in requested.items():
            if key is S.FACTOR:
                continue  # the device reports its scale; a host that echoes it back changes nothing
            if key not in self.settings:
                raise pmd.PmdRequestError(
                    f"setting {key.name} is not offered", pmd.ControlPointStatus.INVALID_PARAMETER
                )
            if len(values) != 1 or values[0] not in self.settings[key]:
                raise pmd.PmdRequestError(
                    f"{key.name} {values} not in {self.settings[key]}",
                    errors.get(key, pmd.ControlPointStatus.INVALID_PARAMETER),
                )
            chosen[key] = int(values[0])
        return chosen


class _PmdFirmware(HrsFirmware):
    """Heart Rate Service plus PMD; subclasses say what they measure and how."""

    offers: ClassVar[Mapping[pmd.MeasurementType, _Offer]] = {}

    def __init__(self, signals: WearerSignals, **kwargs: object) -> None:
        super().__init__(signals, **kwargs)  # type: ignore[arg-type]
        self.running: dict[pmd.MeasurementType, dict[pmd.SettingType, int]] = {}

    def notifying(self) -> frozenset[str]:
        return super().notifying() | {pmd.PMD_CONTROL_POINT_UUID, pmd.PMD_DATA_UUID}

    def read(self, characteristic: str, t_s: float) -> bytes:
        if characteristic == pmd.PMD_CONTROL_POINT_UUID:
            return pmd.encode_features(self.offers)
        return super().read(characteristic, t_s)

    def link_lost(self, t_s: float) -> None:
        self.running.clear()

    def _respond(
        self, t_s: float, opcode: int, type_byte: int, status: pmd.ControlPointStatus, **kw: object
    ) -> Notification:
        payload = pmd.encode_cp_response(opcode, type_byte, status, **kw)  # type: ignore[arg-type]
        return Notification(t_s, pmd.PMD_CONTROL_POINT_UUID, payload)

    def write(self, characteristic: str, data: bytes, t_s: float) -> StreamChanges:
        if characteristic != pmd.PMD_CONTROL_POINT_UUID:
            return super().write(characteristic, data, t_s)
        opcode = data[0] if data else 0
        type_byte = data[1] if len(data) > 1 else 0
        try:
            request = pmd.parse_cp_request(data)
            return self._handle(request, type_byte, t_s)
        except pmd.PmdRequestError as exc:
            return StreamChanges(responses=[self._respond(t_s, opcode, type_byte, exc.status)])

    def _handle(self, request: pmd.PmdRequest, type_byte: int, t_s: float) -> StreamChanges:
        op, mtype = request.opcode, request.measurement_type
        ok = pmd.ControlPointStatus.SUCCESS
        if op not in (
            pmd.ControlPointOpcode.GET_MEASUREMENT_SETTINGS,
            pmd.ControlPointOpcode.REQUEST_MEASUREMENT_START,
            pmd.ControlPointOpcode.STOP_MEASUREMENT,
        ):
            raise pmd.PmdRequestError(f"opcode {op} not supported", pmd.ControlPointStatus.NOT_SUPPORTED)
        if mtype is None or mtype not in self.offers:
            raise pmd.PmdRequestError(f"{mtype} not measured here", pmd.ControlPointStatus.NOT_SUPPORTED)
        if request.recording_type != pmd.RecordingType.ONLINE:
            raise pmd.PmdRequestError("offline recording is not simulated", pmd.ControlPointStatus.NOT_SUPPORTED)
        offer = self.offers[mtype]
        if op == pmd.ControlPointOpcode.GET_MEASUREMENT_SETTINGS:
            params = pmd.encode_settings(offer.settings) if offer.settings else b""
            return StreamChanges(responses=[self._respond(t_s, op, type_byte, ok, params=params)])
        if op == pmd.ControlPointOpcode.STOP_MEASUREMENT:
            self.running.pop(mtype, None)
            return StreamChanges(responses=[self._respond(t_s, op, type_byte, ok)], stopped=[f"pmd:{mtype.name}"])
        if mtype in self.running:
            raise pmd.PmdRequestError(f"{mtype.name} already running", pmd.ControlPointStatus.ALREADY_IN_STATE)
        chosen = offer.choose(request.settings)
        self.running[mtype] = chosen
        return StreamChanges(
            responses=[self._respond(t_s, op, type_byte, ok)],
            started={f"pmd:{mtype.name}": self._stream(mtype, chosen, t_s)},
        )

    def _stream(
        self, mtype: pmd.MeasurementType, settings: Mapping[pmd.SettingType, int], t_s: float
    ) -> Iterator[Notification]:
        raise NotImplementedError

    # -- shared stream builders ---------------------------------------------------------------------

    def _frames(self, t_s: float, fs_hz: float, per_frame: int, render, encode) -> Iterator[Notification]:  # noqa: ANN001
        """Cut a waveform rendered a minute at a time into frames of ``per_frame`` samples.

        Sample k (from the start of the measurement) is at ``t_s + (k + 1) / fs`` on the true clock;
        a frame is sent when its last sample has been taken.
        """
        s = self.signals
        end_s = s.duration_s
        k0 = 0
        chunk_n = max(per_frame, int(_CHUNK_S * fs_hz) // per_frame * per_frame)
        while True:
            first_t = t_s + (k0 + 1) / fs_hz
            n = min(chunk_n, math.floor((end_s - first_t) * fs_hz) + 1)
            n -= n % per_frame
            if n <= 0:
                return
            samples = render(first_t, n)
            for j in range(0, n, per_frame):
                last_t = t_s + (k0 + j + per_frame) / fs_hz
                stamp = pmd.polar_ns(s.t0_utc_s + last_t)
                yield Notification(last_t, pmd.PMD_DATA_UUID, encode(stamp, samples[j : j + per_frame]))
            k0 += n

    def _contact_mask(self, first_t: float, n: int, fs_hz: float) -> np.ndarray:
        s = self.signals
        sec = np.clip((first_t + np.arange(n) / fs_hz).astype(np.int64), 0, s.duration_s - 1)
        return s.sensed.contact[sec]

    def _acc_stream(self, t_s: float, fs_hz: float, *, compressed: bool, factor: float = 1.0) -> Iterator[Notification]:
        """ACC frames: int16 mG, or (``compressed``) raw sensor units that the host scales by
        ``factor`` (the stream's FACTOR setting): mG = raw · factor · 1000 (AccData.kt)."""
        s = self.signals

        def render(first_t: float, n: int) -> np.ndarray:
            lo = max(0, math.floor(first_t))
            act = s.activity[lo : lo + math.ceil(n / fs_hz) + 2]
            act = np.pad(act, (0, max(0, math.ceil(n / fs_hz) + 2 - act.size)))
            mg = acceleration_mg(act, first_t, n, fs_hz, seed=s.seed)
            return np.rint(mg / (factor * 1000.0)).astype(np.int64) if compressed else mg

        if compressed:
            return self._frames(t_s, fs_hz, _ACC_SAMPLES_PER_FRAME * 2, render, pmd.encode_acc_delta_frame)
        return self._frames(t_s, fs_hz, _ACC_SAMPLES_PER_FRAME, render, pmd.encode_acc_frame)


class H10Firmware(_PmdFirmware):
    """Polar H10-like: HRS with RR and contact; PMD ECG at 130 Hz (14-bit offer) and ACC (int16 mG)."""

    offers: ClassVar[Mapping[pmd.MeasurementType, _Offer]] = {
        pmd.MeasurementType.ECG: _Offer({S.SAMPLE_RATE: (130,), S.RESOLUTION: (14,)}),
        pmd.MeasurementType.ACC: _Offer({S.SAMPLE_RATE: (25, 50, 100, 200), S.RESOLUTION: (16,), S.RANGE: (2, 4, 8)}),
    }  # PolarH10.md via ble.md §2

    def __init__(self, signals: WearerSignals, *, clock_drift_ppm: float = 0.0, phase_s: float = 0.0) -> None:
        super().__init__(
            signals,
            profile="h10",
            behaviour=HrsBehaviour(
                send_rr=True, contact_supported=True, clock_drift_ppm=clock_drift_ppm, phase_s=phase_s
            ),
            battery=gatt.CHEST_STRAP_BATTERY,
            info=gatt.DeviceInformation("Polar Electro Oy", "Polar H10 (simulated)", "SIM00001", "3.0.56", None, None),
            body_location=gatt.BodySensorLocation.CHEST,
        )

    def _stream(
        self, mtype: pmd.MeasurementType, settings: Mapping[pmd.SettingType, int], t_s: float
    ) -> Iterator[Notification]:
        s = self.signals
        fs = float(settings[S.SAMPLE_RATE])
        if mtype == pmd.MeasurementType.ACC:
            return self._acc_stream(t_s, fs, compressed=False)

        def render(first_t: float, n: int) -> np.ndarray:
            ecg = ecg_microvolts(s.heart.beat_times_s, first_t, n, fs, seed=s.seed)
            return np.where(self._contact_mask(first_t, n, fs), ecg, 0)  # electrodes off: a flat line

        return self._frames(t_s, fs, _ECG_SAMPLES_PER_FRAME, render, pmd.encode_ecg_frame)


class VerityFirmware(_PmdFirmware):
    """Polar Verity Sense-like: HRS without RR; PMD PPI and ACC (52 Hz, delta-compressed)."""

    offers: ClassVar[Mapping[pmd.MeasurementType, _Offer]] = {
        pmd.MeasurementType.PPI: _Offer({}),
        # FACTOR: g per raw unit, as the device reports it (±8 g over 16 bits: 1/4096 g).
        pmd.MeasurementType.ACC: _Offer(
            {S.SAMPLE_RATE: (52,), S.RESOLUTION: (16,), S.RANGE: (8,), S.CHANNELS: (3,), S.FACTOR: (VERITY_ACC_FACTOR,)}
        ),
    }  # PolarVeritySense.md via ble.md §2

    def __init__(self, signals: WearerSignals, *, clock_drift_ppm: float = 0.0, phase_s: float = 0.0) -> None:
        super().__init__(
            signals,
            profile="verity",
            behaviour=HrsBehaviour(
                send_rr=False, contact_supported=True, clock_drift_ppm=clock_drift_ppm, phase_s=phase_s
            ),
            battery=gatt.WATCH_BROADCAST_BATTERY,
            info=gatt.DeviceInformation("Polar Electro Oy", "Polar Sense (simulated)", "SIM00002", "2.1.8", None, None),
            body_location=gatt.BodySensorLocation.OTHER,
        )

    def _stream(
        self, mtype: pmd.MeasurementType, settings: Mapping[pmd.SettingType, int], t_s: float
    ) -> Iterator[Notification]:
        if mtype == pmd.MeasurementType.ACC:
            fs = float(settings[S.SAMPLE_RATE])
            return self._acc_stream(t_s, fs, compressed=True, factor=float(settings[S.FACTOR]))
        return self._ppi(t_s)

    def _ppi(self, from_s: float) -> Iterator[Notification]:
        """One frame a second with the intervals detected since the last (none: no frame).

        The error estimate grows with movement and ``blocker`` is set while moving briskly: optical
        intervals are unreliable in motion (Polar PPIData.md advises PPI at rest only). Both
        thresholds are assumptions.
        """
        s = self.signals
        k = 0
        prev = from_s
        while True:
            k += 1
            t = from_s + k * _PPI_PERIOD_S
            if t > s.duration_s:
                return
            span = s.sensed.in_range(prev, t)
            prev = t
            samples = []
            last_t = t
            for i in range(span.start, span.stop):
                ticks = int(s.sensed.rr_1024[i])
                if ticks <= 0:
                    continue
                ppi_ms = round(ticks * 1000 / 1024)
                activity = float(s.activity[s.second(s.sensed.t_s[i])])
                samples.append(
                    pmd.PpiSample(
                        hr_bpm=min(255, round(60_000 / ppi_ms)),
                        ppi_ms=ppi_ms,
                        error_estimate_ms=round(5 + 20 * activity),
                        blocker=activity > 1.2,
                        skin_contact=bool(s.sensed.contact[s.second(s.sensed.t_s[i])]),
                    )
                )
                last_t = float(s.sensed.t_s[i])
            if samples:
                stamp = pmd.polar_ns(s.t0_utc_s + last_t)
                yield Notification(t, pmd.PMD_DATA_UUID, pmd.encode_ppi_frame(stamp, samples))
