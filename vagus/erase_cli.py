"""``vagus erase``: remove everything vagus holds about the person, after a typed confirmation.

The local store (every row of every table, the sync outbox included; the file rewritten so no deleted
row stays on disk: ``vagus.edge.privacy``) and, with ``--server``, the person's points on the database
server (``vagus.sync.server_data``) and the bridge's dead letters under the person's topics (when run on
the bridge's host, where that file is). Prints what was deleted, counted per table and per measurement.
Stop the agent first: records still in its memory or in flight would otherwise be stored or sent again.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from vagus.errors import ConfigError, VagusError
from vagus.export_cli import _common_arguments, _load, _person, bridge_config_for, dead_letters_for, server_data_for

if TYPE_CHECKING:
    from vagus.sync.settings import BridgeConfig

__all__ = ["add_erase_parser", "main"]

_WORD = "erase"  # typed to confirm when no person id is configured


def add_erase_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "erase",
        help="erase everything vagus holds about you (local store; with --server, the database too)",
        description="Delete every row of the local store (beats, indicators, nights, nudges, check-ins, the "
        "sync outbox, …; the schema stays) and rewrite the file so the deleted rows are gone from disk; with "
        "--server also the person's points on the database server, with the bridge's credentials. Asks you "
        "to type the person id unless --yes. Stop the agent first. Run `vagus export` before if you want a "
        "copy. See docs/security.md.",
    )
    _common_arguments(p)
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation (scripts)")
    p.add_argument(
        "--drop-bucket",
        action="store_true",
        help="with --server: also drop the person's own database (InfluxDB 1.x) or bucket (2.x)",
    )
    p.set_defaults(func=_cmd_erase)


def _cmd_erase(args: argparse.Namespace, out: TextIO | None = None, ask: Callable[[str], str] = input) -> int:
    out = sys.stdout if out is None else out  # looked up now: tests and pipes replace it
    try:
        config, store_path = _load(args)
        person = _person(args, config)
        bridge = bridge_config_for(args.bridge_config) if args.server else None
        if not args.yes and not _confirmed(person, store_path, bridge is not None, out, ask):
            out.write("vagus: nothing erased (confirmation did not match)\n")
            return 1
        _erase_local(store_path, out)
        if bridge is not None:
            _erase_server(bridge, person, args.drop_bucket, out)
    except ConfigError:
        raise
    except VagusError as exc:
        print(f"vagus: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _confirmed(person: str, store_path: Path, server: bool, out: TextIO, ask: Callable[[str], str]) -> bool:
    word = person or _WORD
    where = f"the local store {store_path}" + (" and the database server" if server else "")
    out.write(f"This deletes everything about {person or 'this person'} in {where}. It cannot be undone.\n")
    out.flush()
    try:
        typed = ask(f"Type {word!r} to confirm: ")
    except EOFError:
        typed = ""
    return typed.strip() == word


def _erase_local(store_path: Path, out: TextIO) -> None:
    from vagus.edge.privacy import erase_local

    erased = erase_local(store_path) if store_path.exists() else None
    if erased is None:
        out.write(f"vagus: no local store at {store_path}; nothing to erase there\n")
        return
    out.write(f"vagus: erased the local store {store_path}: {erased.total} rows\n")
    for table, n in erased.deleted.items():
        extra = " (a new key was made)" if table in erased.remade else ""
        out.write(f"  {table:<28} {n:>9} rows deleted{extra}\n")
    out.write(f"  file size {erased.bytes_before} → {erased.bytes_after} bytes\n")


def _erase_server(bridge: BridgeConfig, person: str, drop_bucket: bool, out: TextIO) -> None:
    report = server_data_for(bridge).erase(person, drop_location=drop_bucket)
    out.write(f"vagus: erased on the server ({report.kind.value}, {report.location}): {report.total} points\n")
    for name, n in report.deleted.items():
        out.write(f"  {name:<28} {n:>9} points deleted\n")
    if report.dropped_location:
        out.write(f"  dropped {report.location}\n")
    for note in report.notes:
        out.write(f"  note: {note}\n")
    letters = dead_letters_for(bridge, out)
    if letters is not None:
        with letters:
            n = letters.erase_person(bridge.bridge.prefix, person)
        out.write(f"  {'dead letters':<28} {n:>9} deleted from {letters.path}\n")


def main(argv: list[str] | None = None, *, ask: Callable[[str], str] = input) -> int:
    """``vagus erase`` on its own (tests, and ``python -m vagus.erase_cli``)."""
    parser = argparse.ArgumentParser(prog="vagus")
    add_erase_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["erase", *(sys.argv[1:] if argv is None else argv)])
    from vagus.command import finish

    return finish(lambda: _cmd_erase(args, ask=ask))


if __name__ == "__main__":
    sys.exit(main())
