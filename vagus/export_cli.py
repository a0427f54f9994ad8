"""``vagus export``: everything vagus holds about the person, in open formats.

The local store (every table as CSV, the RR series as plain text per device, a JSON manifest:
``vagus.edge.privacy``) and, with ``--server``, the person's points on the database server, read with
the bridge's credentials (``vagus.sync.server_data``). docs/security.md, "Export and erase".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from vagus.errors import ConfigError, VagusError

if TYPE_CHECKING:
    from vagus.config import Config
    from vagus.sync.deadletter import DeadLetters
    from vagus.sync.server_data import ServerData

__all__ = ["add_export_parser", "dead_letters_for", "main", "server_data_for"]


def add_export_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "export",
        help="export everything vagus holds about you (local store; with --server, the database too)",
        description="Write the local store (every table as CSV, the RR series one value in ms per line per "
        "device — readable by `vagus analyze`, Kubios HRV and hrv — and a manifest.json) into --out/local, and "
        "with --server the person's points on the database server, read with the bridge's credentials, into "
        "--out/server. The store is opened read-only. See docs/security.md.",
    )
    _common_arguments(p)
    p.add_argument("--out", type=Path, metavar="DIR", help="where to write (default: ./vagus-export-<UTC time>)")
    p.set_defaults(func=_cmd_export)


def _common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, metavar="PATH", help="the agent's config file (store path, [sync] person)")
    p.add_argument("--db", type=Path, metavar="PATH", help="the local store (default: the config's [store] path)")
    p.add_argument("--server", action="store_true", help="also the person's data on the database server")
    p.add_argument(
        "--bridge-config",
        type=Path,
        metavar="PATH",
        help="the bridge's config file, for the database URL, bucket and token (with --server)",
    )
    p.add_argument("--person", help="the person id on the server (default: the config's [sync] person)")


def _load(args: argparse.Namespace) -> tuple[Config, Path]:
    from vagus.config import load_config

    config = load_config(args.config)
    return config, Path(args.db or config.store.path)


def _person(args: argparse.Namespace, config: Config) -> str:
    """The person id ("" when none is configured, which only a local export or erase accepts)."""
    person = args.person or config.sync.person or ""
    if args.server and not person:
        raise ConfigError("--server needs the person id: set [sync] person in the config, or pass --person")
    return person


def server_data_for(bridge_config: Path | None) -> ServerData:
    """The database server the bridge writes to, with the bridge's credentials (file or environment)."""
    from vagus.sync.server_data import ServerData
    from vagus.sync.settings import influx_target, load_bridge_config

    config = load_bridge_config(bridge_config)
    return ServerData(influx_target(config.influx), bucket_template=config.influx.bucket)


def dead_letters_for(bridge_config: Path | None, out: TextIO) -> tuple[DeadLetters | None, str]:
    """The bridge's dead-letter store, if its file is on this machine (the bridge's host), and the
    topic prefix; else ``None`` and a line on ``out`` saying it was left out and where it is."""
    from vagus.sync.deadletter import DeadLetters
    from vagus.sync.settings import load_bridge_config

    config = load_bridge_config(bridge_config)
    path = Path(config.bridge.dead_letter_path)
    if not path.exists():
        out.write(f"  note: no dead-letter store at {path} on this machine; run on the bridge's host to include it\n")
        return None, config.bridge.prefix
    return DeadLetters(path), config.bridge.prefix


def _cmd_export(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from vagus.edge.privacy import export_local

    out = sys.stdout if out is None else out  # looked up now: tests and pipes replace it
    try:
        config, store_path = _load(args)
        person = _person(args, config)
        root = args.out or Path(f"vagus-export-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
        local = export_local(store_path, root / "local")
        out.write(f"vagus: local store {store_path} → {local.out_dir}\n")
        for t in local.tables:
            out.write(f"  {t.table:<28} {t.rows:>9} rows\n")
        for path in local.rr_files.values():
            out.write(f"  RR series (ms, one per line)  → {path.name}\n")
        if args.server:
            server = server_data_for(args.bridge_config)
            report = server.export(person, root / "server")
            out.write(f"vagus: server ({report.kind.value}, {report.location}) → {root / 'server'}\n")
            for name, n in report.counts.items():
                out.write(f"  {name:<28} {n:>9} points\n")
            if not report.counts:
                out.write("  (nothing stored for this person)\n")
            letters, prefix = dead_letters_for(args.bridge_config, out)
            if letters is not None:
                try:
                    kept = letters.of_person(prefix, person)
                finally:
                    letters.close()
                target = root / "server" / "dead-letters.json"
                target.write_text(json.dumps(kept, indent=1), encoding="utf-8")
                out.write(f"  dead letters (the bridge could not use) {len(kept):>5} → {target.name}\n")
    except ConfigError:
        raise
    except VagusError as exc:
        print(f"vagus: error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``vagus export`` on its own (tests, and ``python -m vagus.export_cli``)."""
    from vagus.command import run_verb

    return run_verb("export", add_export_parser, argv)


if __name__ == "__main__":
    sys.exit(main())
