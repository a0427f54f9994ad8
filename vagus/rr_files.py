"""Readers for recorded RR files: one value per line, CSV with a header, and Polar ``.hrm``.

Blank lines and CRLF line ends are fine. A value ≤ 0 is dropped with a warning naming its line,
as the ``hrv`` library does (``real_rri.txt`` ends with a 0), or rejected with ``strict``.
Anything unparsable is a ``DataError`` naming the file and line.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vagus.errors import DataError

__all__ = ["FORMATS", "RRRecording", "detect_format", "read_rr_file"]

Format = Literal["lines", "csv", "hrm"]
FORMATS: tuple[Format, ...] = ("lines", "csv", "hrm")

# Column names recognised in a CSV header (case-insensitive), in ms unless the name says seconds.
_MS_COLUMNS = ("rr_ms", "rr", "rri", "rri_ms", "ibi", "ibi_ms", "nn", "nn_ms", "rr-interval", "rr interval (ms)")
_S_COLUMNS = ("rr_s", "rri_s", "ibi_s", "nn_s")
_HRM_RR_INTERVAL = 238  # Polar HRM "Interval=238" marks R-R recording; other values are HR samples


@dataclass(frozen=True, slots=True)
class RRRecording:
    rr_ms: list[float]
    lines: list[int]  # 1-based line number of each value
    warnings: list[str]
    format: Format


def detect_format(path: Path, text: str) -> Format:
    if path.suffix.lower() == ".hrm" or text.lstrip().startswith("[Params]"):
        return "hrm"
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if any(ch.isalpha() for ch in first) and ("," in first or ";" in first or "\t" in first):
        return "csv"
    if path.suffix.lower() == ".csv":
        return "csv"
    return "lines"


def _value(raw: str, where: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise DataError(f"{where}: cannot read {raw.strip()!r} as an RR interval") from None
    if not math.isfinite(value):
        raise DataError(f"{where}: {raw.strip()!r} is not a finite number")
    return value


def _collect(values: list[tuple[int, str]], path: Path, *, scale: float, strict: bool, fmt: Format) -> RRRecording:
    rr: list[float] = []
    lines: list[int] = []
    warnings: list[str] = []
    for line_no, raw in values:
        where = f"{path}:{line_no}"
        value = _value(raw, where) * scale
        if value <= 0:
            if strict:
                raise DataError(f"{where}: RR interval {raw.strip()} is not > 0")
            warnings.append(f"{where}: dropped RR interval {raw.strip()} (not > 0)")
            continue
        rr.append(value)
        lines.append(line_no)
    if not rr:
        raise DataError(f"{path}: no RR intervals found")
    return RRRecording(rr_ms=rr, lines=lines, warnings=warnings, format=fmt)


def _lines(text: str) -> list[tuple[int, str]]:
    return [(i, ln.strip()) for i, ln in enumerate(text.splitlines(), start=1) if ln.strip()]


def _csv(text: str, path: Path) -> tuple[list[tuple[int, str]], float]:
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    header: list[str] | None = None
    column, scale = 0, 1.0
    out: list[tuple[int, str]] = []
    for row in rows:
        line_no = rows.line_num
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            names = [n for n in _MS_COLUMNS + _S_COLUMNS if n in header]
            if names:
                column, scale = header.index(names[0]), (1000.0 if names[0] in _S_COLUMNS else 1.0)
            elif len(header) == 1:
                column = 0
            else:
                raise DataError(
                    f"{path}:{line_no}: no RR column in the header {row}; name it one of {', '.join(_MS_COLUMNS)}"
                )
            continue
        if column >= len(row):
            raise DataError(f"{path}:{line_no}: the row has no column {column + 1}")
        out.append((line_no, row[column]))
    return out, scale


def _hrm(text: str, path: Path) -> list[tuple[int, str]]:
    section = ""
    out: list[tuple[int, str]] = []
    interval: str | None = None
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section == "Params" and line.lower().startswith("interval="):
            interval = line.split("=", 1)[1].strip()
        elif section == "HRData" and line:
            out.append((line_no, line.split()[0]))
    if interval is not None and interval != str(_HRM_RR_INTERVAL):
        raise DataError(
            f"{path}: this Polar file holds heart-rate samples every {interval} s, not RR intervals "
            f"(RR recordings have Interval={_HRM_RR_INTERVAL})"
        )
    if not out:
        raise DataError(f"{path}: no [HRData] section with values")
    return out


def read_rr_file(path: Path, *, fmt: Format | None = None, strict: bool = False) -> RRRecording:
    """Read RR intervals in ms from a recorded file (format detected unless given)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a text file ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    fmt = fmt or detect_format(path, text)
    if fmt == "hrm":
        return _collect(_hrm(text, path), path, scale=1.0, strict=strict, fmt=fmt)
    if fmt == "csv":
        values, scale = _csv(text, path)
        return _collect(values, path, scale=scale, strict=strict, fmt=fmt)
    return _collect(_lines(text), path, scale=1.0, strict=strict, fmt=fmt)
