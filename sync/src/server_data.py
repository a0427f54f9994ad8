"""A person's data on the server: export it and erase it, with the bridge's database credentials.

The bridge writes each person's records as points tagged ``person=<id>`` (docs/topics.md, "In the
database"), into ``[influx] bucket`` with ``{person}`` replaced. This module finds them again by that
tag on the three servers vagus writes to, through their own HTTP APIs (plain ``urllib``: no client
library, so it works against InfluxDB 1.x, which influxdb-client does not speak):

- **InfluxDB 1.x** (``/query``, InfluxQL): export ``SELECT * FROM /.*/ WHERE "person" = '…'``; erase
  ``DROP SERIES WHERE "person" = '…'`` (points and index), optionally ``DROP DATABASE`` of a
  per-person database.
- **VictoriaMetrics**: export ``/api/v1/export?match[]={person="…"}``; erase
  ``/api/v1/admin/tsdb/delete_series?match[]={person="…"}``.
- **InfluxDB 2.x** (``/api/v2``): export with a Flux query (annotated CSV); erase with ``/api/v2/delete``
  and the predicate ``person="…"``, optionally deleting the per-person bucket.

Tested in CI against Debian's influxdb 1.6.7 and victoria-metrics; the InfluxDB 2.x path follows the
v2 API reference and is **not exercised in CI** (docs/security.md). InfluxDB 3 has no delete by tag:
only whole databases or tables (``influxdb3 delete database``), so use a database per person there.

Every request names the person only in its query, never in a log line.
"""

from __future__ import annotations

import base64
import csv
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from .errors import SyncError
from .settings import InfluxTarget, bucket_for
from .topics import check_person

__all__ = [
    "ServerData",
    "ServerDataError",
    "ServerErase",
    "ServerExport",
    "ServerKind",
]

# The end of InfluxDB's time range (2262-04-11): a delete up to "now" would miss points from a device
# whose clock runs ahead.
_INFLUX_MAX_TIME: Final = "2262-04-11T00:00:00Z"
_CHUNK_ROWS: Final = 10_000


class ServerDataError(SyncError):
    """The server could not be reached, or refused the request; the message says which and why."""


class ServerKind(StrEnum):
    INFLUXDB1 = "influxdb1"
    INFLUXDB2 = "influxdb2"
    VICTORIAMETRICS = "victoriametrics"


@dataclass(frozen=True, slots=True)
class ServerExport:
    """Files written and, per measurement (InfluxDB) or metric (VictoriaMetrics), the points exported."""

    kind: ServerKind
    location: str  # the database or bucket (VictoriaMetrics has none: "-")
    files: tuple[Path, ...]
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class ServerErase:
    """Points deleted per measurement or metric (counted just before the delete), and whether the
    person's own database or bucket was dropped as well."""

    kind: ServerKind
    location: str
    deleted: Mapping[str, int]
    dropped_location: bool = False
    notes: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


Opener = Callable[[urllib.request.Request, float], _Response]


def _urlopen(request: urllib.request.Request, timeout_s: float) -> _Response:
    # The scheme was checked to be http or https in ServerData.__init__, so no file: or custom URL.
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as r:  # noqa: S310 — scheme checked in __init__
            return _Response(r.status, dict(r.headers.items()), r.read())
    except urllib.error.HTTPError as exc:
        return _Response(exc.code, dict(exc.headers.items()), exc.read())


def _influxql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _influxql_ident(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _flux_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ServerData:
    """Export and erase people's data on one database server (see the module docstring).

    ``bucket_template`` is the bridge's ``[influx] bucket``; for InfluxDB 1.x the database is the part
    before any ``/`` (``db/retention_policy``). ``kind`` is detected from the server when not given.
    """

    def __init__(
        self,
        target: InfluxTarget,
        *,
        bucket_template: str,
        kind: ServerKind | None = None,
        opener: Opener = _urlopen,
    ) -> None:
        scheme = urllib.parse.urlsplit(target.url).scheme
        if scheme not in {"http", "https"}:
            raise ValueError(f"influx.url must be an http:// or https:// URL, got {target.url!r}")
        self._target = target
        self._base = target.url.rstrip("/")
        self._template = bucket_template
        self._kind = kind
        self._open = opener

    # -- plumbing -----------------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        token = self._target.token
        if not token:
            return {}
        if self.kind is not ServerKind.INFLUXDB2 and ":" in token:
            # InfluxDB 1.x users (and VictoriaMetrics behind basic auth): "user:password".
            return {"Authorization": "Basic " + base64.b64encode(token.encode()).decode("ascii")}
        scheme = "Bearer" if self.kind is ServerKind.VICTORIAMETRICS else "Token"
        return {"Authorization": f"{scheme} {token}"}

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | list[tuple[str, str]] | None = None,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        what: str,
        auth: bool = True,
    ) -> _Response:
        url = self._base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        all_headers = {**(self._auth_headers() if auth else {}), **(headers or {})}
        request = urllib.request.Request(url, data=body, method=method, headers=all_headers)  # noqa: S310 — scheme checked in __init__
        try:
            response = self._open(request, self._target.timeout_s)
        except OSError as exc:
            raise ServerDataError(f"cannot reach the database at {self._base} to {what}: {exc}") from exc
        if response.status >= 300:
            detail = response.body.decode("utf-8", "replace").strip()[:300]
            hint = " (check [influx] token_file / $VAGUS_INFLUX_TOKEN)" if response.status in (401, 403) else ""
            raise ServerDataError(f"the database refused to {what}: HTTP {response.status}: {detail}{hint}")
        return response

    @property
    def kind(self) -> ServerKind:
        if self._kind is None:
            self._kind = self._detect()
        return self._kind

    def _detect(self) -> ServerKind:
        """InfluxDB answers /ping with its version in a header; VictoriaMetrics answers without one,
        and has a Prometheus-style build-info endpoint."""
        ping = self._request("GET", "/ping", what="identify the server (/ping)", auth=False)
        version = next((v for k, v in ping.headers.items() if k.lower() == "x-influxdb-version"), "")
        if version.lstrip("v").startswith("1."):
            return ServerKind.INFLUXDB1
        if version.lstrip("v").startswith("2."):
            return ServerKind.INFLUXDB2
        if version:
            raise ServerDataError(
                f"InfluxDB {version} at {self._base}: vagus exports and erases on InfluxDB 1.x and 2.x;"
                " InfluxDB 3 deletes whole databases only (docs/security.md)"
            )
        self._request("GET", "/api/v1/status/buildinfo", what="identify the server", auth=False)
        return ServerKind.VICTORIAMETRICS

    def location(self, person: str) -> str:
        """The bucket (InfluxDB 2.x), database (1.x) or "-" (VictoriaMetrics) that holds ``person``."""
        check_person(person)
        if self.kind is ServerKind.VICTORIAMETRICS:
            return "-"
        bucket = bucket_for(self._template, person)
        return bucket.split("/", 1)[0] if self.kind is ServerKind.INFLUXDB1 else bucket

    def _per_person_location(self) -> bool:
        return "{person}" in self._template

    # -- public API ---------------------------------------------------------------------------------

    def count(self, person: str) -> dict[str, int]:
        """Points per measurement (InfluxDB) or samples per metric (VictoriaMetrics) held for ``person``."""
        return dict(self._scan(person, None))

    def export(self, person: str, out_dir: Path | str) -> ServerExport:
        """Write everything the server holds for ``person`` into ``out_dir`` (created)."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        files: list[Path] = []
        counts = self._scan(person, out_dir, files)
        return ServerExport(self.kind, self.location(person), tuple(files), dict(counts))

    def erase(self, person: str, *, drop_location: bool = False) -> ServerErase:
        """Delete every point tagged ``person``; with ``drop_location``, also drop the person's own
        database (1.x) or bucket (2.x) — refused when the bucket template has no ``{person}`` (a shared
        bucket holds other people's data)."""
        if drop_location and not self._per_person_location():
            raise ServerDataError(
                f"the bucket {self._template!r} is shared by everyone (no {{person}} in it): only the"
                " person's points can be deleted, not the bucket"
            )
        counts = dict(self._scan(person, None))
        location = self.location(person)
        notes: list[str] = []
        if self.kind is ServerKind.INFLUXDB1:
            self._erase_influx1(person, location, drop_location)
            notes.append("InfluxDB 1.x frees the disk space at its next compaction")
        elif self.kind is ServerKind.VICTORIAMETRICS:
            self._erase_victoria(person)
            notes.append("VictoriaMetrics removes the deleted samples from disk at its next background merge")
        else:
            self._erase_influx2(person, location, drop_location)
            notes.append("InfluxDB 2.x removes deleted points from disk at its next compaction")
        return ServerErase(self.kind, location, counts, drop_location, tuple(notes))

    def ensure_retention_influx1(self, person: str, days: float, *, name: str = "vagus") -> None:
        """InfluxDB 1.x: make ``name`` (``days`` long) the default retention policy of the person's
        database, creating the database if needed. Points older than that are dropped by the server.
        (2.x: a bucket's retention is set when it is made; VictoriaMetrics: ``-retentionPeriod``.)"""
        if self.kind is not ServerKind.INFLUXDB1:
            raise ServerDataError(f"retention policies are an InfluxDB 1.x feature, not {self.kind.value}")
        if not days > 0:
            raise ValueError(f"days must be > 0, got {days}")
        db = _influxql_ident(self.location(person))
        hours = max(1, round(days * 24))  # InfluxDB's shortest retention is one hour
        self._influxql(f"CREATE DATABASE {db}", post=True, what="create the database")
        ident = _influxql_ident(name)
        existing = self._influxql(f"SHOW RETENTION POLICIES ON {db}", what="list retention policies")
        names = {row[0] for r in existing for s in r.get("series", []) for row in s.get("values", [])}
        verb = "ALTER" if name in names else "CREATE"
        self._influxql(
            f"{verb} RETENTION POLICY {ident} ON {db} DURATION {hours}h REPLICATION 1 DEFAULT",
            post=True,
            what="set the retention policy",
        )

    # -- InfluxDB 1.x -------------------------------------------------------------------------------

    def _influxql(
        self, q: str, *, db: str | None = None, post: bool = False, what: str, chunked: bool = False
    ) -> list[dict[str, Any]]:
        params = {"q": q, "epoch": "ms"}
        if db is not None:
            params["db"] = db
        if chunked:
            params.update(chunked="true", chunk_size=str(_CHUNK_ROWS))
        response = self._request("POST" if post else "GET", "/query", params, what=what)
        results: list[dict[str, Any]] = []
        for line in response.body.splitlines():  # chunked: one JSON document per line
            if not line.strip():
                continue
            doc = json.loads(line)
            if "error" in doc:
                raise ServerDataError(f"InfluxDB could not {what}: {doc['error']}")
            for result in doc.get("results", []):
                if "error" in result:
                    raise ServerDataError(f"InfluxDB could not {what}: {result['error']}")
                results.append(result)
        return results

    def _databases_influx1(self) -> set[str]:
        results = self._influxql("SHOW DATABASES", what="list databases")
        return {row[0] for r in results for s in r.get("series", []) for row in s.get("values", [])}

    def _scan_influx1(self, person: str, out_dir: Path | None, files: list[Path]) -> Counter[str]:
        db = self.location(person)
        counts: Counter[str] = Counter()
        if db not in self._databases_influx1():
            return counts
        q = f'SELECT * FROM /.*/ WHERE "person" = {_influxql_string(person)}'  # noqa: S608 — InfluxQL; a checked id, quoted
        results = self._influxql(q, db=db, what="read the person's points", chunked=True)
        writers: dict[str, tuple[Any, Any, list[str]]] = {}
        try:
            for result in results:
                for series in result.get("series", []):
                    measurement = str(series["name"])
                    columns = [str(c) for c in series["columns"]]
                    rows = series.get("values", [])
                    counts[measurement] += len(rows)
                    if out_dir is None:
                        continue
                    if measurement not in writers:
                        path = out_dir / f"influxdb1-{measurement}.csv"
                        handle = path.open("w", encoding="utf-8", newline="")
                        writer = csv.writer(handle)
                        header = ["time_utc_ms", *columns[1:]]
                        writer.writerow(header)
                        writers[measurement] = (handle, writer, columns)
                        files.append(path)
                    _, writer, first_columns = writers[measurement]
                    index = [columns.index(c) if c in columns else None for c in first_columns]
                    for row in rows:
                        writer.writerow(["" if i is None or row[i] is None else row[i] for i in index])
        finally:
            for handle, _, _ in writers.values():
                handle.close()
        return counts

    def _erase_influx1(self, person: str, db: str, drop_database: bool) -> None:
        if db not in self._databases_influx1():
            return
        q = f'DROP SERIES WHERE "person" = {_influxql_string(person)}'
        self._influxql(q, db=db, post=True, what="delete the person's series")
        if drop_database:
            self._influxql(f"DROP DATABASE {_influxql_ident(db)}", post=True, what="drop the person's database")

    # -- VictoriaMetrics ----------------------------------------------------------------------------

    @staticmethod
    def _selector(person: str) -> str:
        return '{person="' + check_person(person) + '"}'  # the pattern allows no quote or backslash

    def _flush_victoria(self) -> None:
        # Points written in the last second are not searchable until flushed: an erase must see them.
        # An internal endpoint: a server that hides it only delays visibility by about a second.
        try:
            self._request("GET", "/internal/force_flush", what="flush recent writes")
        except ServerDataError:
            time.sleep(1.5)

    def _scan_victoria(self, person: str, out_dir: Path | None, files: list[Path]) -> Counter[str]:
        self._flush_victoria()
        params = [("match[]", self._selector(person)), ("start", "0"), ("end", str(int(time.time()) + 86_400 * 366))]
        response = self._request("GET", "/api/v1/export", params, what="export the person's series")
        counts: Counter[str] = Counter()
        lines = [line for line in response.body.splitlines() if line.strip()]
        for line in lines:
            series = json.loads(line)
            counts[str(series["metric"].get("__name__", ""))] += len(series.get("timestamps", []))
        if out_dir is not None:
            path = out_dir / "victoriametrics.jsonl"
            path.write_bytes(b"".join(line + b"\n" for line in lines))
            files.append(path)
        return counts

    def _erase_victoria(self, person: str) -> None:
        self._request(
            "POST",
            "/api/v1/admin/tsdb/delete_series",
            [("match[]", self._selector(person))],
            what="delete the person's series",
        )

    # -- InfluxDB 2.x (not exercised in CI) ---------------------------------------------------------

    def _scan_influx2(self, person: str, out_dir: Path | None, files: list[Path]) -> Counter[str]:
        bucket = self.location(person)
        flux = (
            f"from(bucket: {_flux_string(bucket)}) |> range(start: 0)"
            f" |> filter(fn: (r) => r.person == {_flux_string(person)})"
        )
        body = json.dumps(
            {"query": flux, "type": "flux", "dialect": {"annotations": ["datatype", "group", "default"]}}
        ).encode()
        response = self._request(
            "POST",
            "/api/v2/query",
            {"org": self._target.org},
            body=body,
            headers={"Content-Type": "application/json", "Accept": "application/csv"},
            what="export the person's points",
        )
        counts: Counter[str] = Counter()
        measurement_at: int | None = None
        for row in csv.reader(response.body.decode("utf-8").splitlines()):
            if not row or row[0].startswith("#"):
                continue
            if "_measurement" in row and "result" in row:
                measurement_at = row.index("_measurement")
                continue
            if measurement_at is not None and measurement_at < len(row):
                counts[row[measurement_at]] += 1  # one row per field value
        if out_dir is not None:
            path = out_dir / "influxdb2.csv"
            path.write_bytes(response.body)
            files.append(path)
        return counts

    def _erase_influx2(self, person: str, bucket: str, drop_bucket: bool) -> None:
        org = {"org": self._target.org}
        if drop_bucket:
            found = self._request("GET", "/api/v2/buckets", {**org, "name": bucket}, what="find the bucket")
            for b in json.loads(found.body).get("buckets", []):
                self._request("DELETE", f"/api/v2/buckets/{urllib.parse.quote(b['id'])}", what="delete the bucket")
            return
        body = json.dumps(
            {"start": "1970-01-01T00:00:00Z", "stop": _INFLUX_MAX_TIME, "predicate": f"person={_flux_string(person)}"}
        ).encode()
        self._request(
            "POST",
            "/api/v2/delete",
            {**org, "bucket": bucket},
            body=body,
            headers={"Content-Type": "application/json"},
            what="delete the person's points",
        )

    def _scan(self, person: str, out_dir: Path | None, files: list[Path] | None = None) -> Iterator[tuple[str, int]]:
        check_person(person)
        sink: list[Path] = [] if files is None else files
        scanners = {
            ServerKind.INFLUXDB1: self._scan_influx1,
            ServerKind.VICTORIAMETRICS: self._scan_victoria,
            ServerKind.INFLUXDB2: self._scan_influx2,
        }
        counts = scanners[self.kind](person, out_dir, sink)
        return iter(sorted(counts.items()))
