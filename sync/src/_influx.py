"""The database adapter: the only module that imports influxdb-client.

Writes line protocol synchronously to ``/api/v2/write`` (InfluxDB 2.x, 1.8+, 3.x, or VictoriaMetrics),
because the bridge acknowledges MQTT messages only after their write returned success. The client's
own retries are off; the bridge owns retrying (``backoff.py``). Errors are translated into two
kinds: ``WriteRejected`` (the database refuses these points: retrying cannot help) and
``WriteFailed`` (unreachable, overloaded, or not authorised: retry later).
"""

from __future__ import annotations

from collections.abc import Sequence

import urllib3
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from .errors import SyncError
from .settings import InfluxTarget

__all__ = ["InfluxTarget", "InfluxWriter", "WriteFailed", "WriteRejected"]

# 400: malformed or conflicting points (a field's type changed); 413: too large; 422: outside retention.
# Anything else (401/403 bad token, 404 no such bucket, 429, 5xx, no connection) may heal: retry.
_REJECTED_STATUSES = frozenset({400, 413, 422})


class WriteFailed(SyncError):
    """The write did not happen and may succeed later."""


class WriteRejected(SyncError):
    """The database refused these points; ``status`` is the HTTP status."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"the database refused the points (HTTP {status}): {detail}")
        self.status = status
        self.detail = detail


class InfluxWriter:
    def __init__(self, target: InfluxTarget) -> None:
        self._target = target
        self._client = InfluxDBClient(
            url=target.url,
            token=target.token or None,
            org=target.org,
            timeout=int(target.timeout_s * 1000),
            enable_gzip=target.gzip,
        )
        self._write = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, bucket: str, lines: Sequence[str]) -> None:
        """Write ``lines`` (millisecond precision) or raise ``WriteRejected`` / ``WriteFailed``."""
        if not lines:
            return
        try:
            self._write.write(
                bucket=bucket, org=self._target.org, record="\n".join(lines), write_precision=WritePrecision.MS
            )
        except ApiException as exc:
            status = int(exc.status or 0)
            body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body or exc.reason)
            detail = body.strip()[:300]
            if status in _REJECTED_STATUSES:
                raise WriteRejected(status, detail) from exc
            raise WriteFailed(f"the database answered HTTP {status}: {detail}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise WriteFailed(f"cannot reach the database at {self._target.url}: {type(exc).__name__}") from exc

    def close(self) -> None:
        self._client.close()
