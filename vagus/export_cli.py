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
    from vagus.sync.settings import BridgeConfig

__all__ = ["add_export_parser", "bridge_config_for", "dead_letters_for", "main", "server_data_for"]


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


def bridge_config_for(path: Path | None) -> BridgeConfig:
    """The bridge's config file (``--bridge-config``): the database it writes to, its credentials (file
    or environment), and where its dead letters are."""
    from vagus.sync.settings import load_bridge_config

    return load_bridge_config(path)


def server_data_for(bridge: BridgeConfig) -> ServerData:
    """The database server the bridge writes to, with the bridge's credentials."""
    from vagus.sync.server_data import ServerData
    from vagus.sync.settings import influx_target

    return ServerData(influx_target(bridge.influx), bucket_template=bridge.influx.bucket)


def dead_letters_for(bridge: BridgeConfig, out: TextIO) -> DeadLetters | None:
    """The bridge's dead-letter store, if its file is on this machine (the bridge's host); else ``None``
    and a line on ``out`` saying it was left out and where it is."""
    from vagus.sync.deadletter import DeadLetters

    path = Path(bridge.bridge.dead_letter_path)
    if not path.exists():
        out.write(f"  note: no dead-letter store at {path} on this machine; run on the bridge's host to include it\n")
        return None
    return DeadLetters(path)


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
            bridge = bridge_config_for(args.bridge_config)
            report = server_data_for(bridge).export(person, root / "server")
            out.write(f"vagus: server ({report.kind.value}, {report.location}) → {root / 'server'}\n")
            for name, n in report.counts.items():
                out.write(f"  {name:<28} {n:>9} points\n")
            if not report.counts:
                out.write("  (nothing stored for this person)\n")
            letters = dead_letters_for(bridge, out)
            if letters is not None:
                with letters:
                    kept = letters.of_person(bridge.bridge.prefix, person)
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
