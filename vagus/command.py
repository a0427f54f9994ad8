"""How every ``vagus`` verb ends: its errors become one line on stderr and an exit code, the same
whether it runs as ``vagus VERB`` or on its own (``python -m vagus.VERB_cli``, the tests)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from vagus.errors import ConfigError, DataError, StoreError, VagusError

__all__ = ["finish", "run_verb"]


def finish(func: Callable[[], int]) -> int:
    """``func()``'s exit code; 2 for a configuration or usage error, 1 for bad data, a store that
    cannot be used, or any other vagus error; 130 on Ctrl-C; 0 when a pipe reader left (``| head``)."""
    try:
        return int(func())
    except ConfigError as exc:
        print(f"vagus: error: {exc}", file=sys.stderr)
        return 2
    except (StoreError, DataError, VagusError) as exc:
        print(f"vagus: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader left; not an error of ours
        sys.stderr.close()
        return 0


def run_verb(
    verb: str, add_parser: Callable[[argparse._SubParsersAction], None], argv: Sequence[str] | None = None
) -> int:
    """Parse ``argv`` (default: the process's) as ``vagus VERB …`` and run it through :func:`finish`."""
    parser = argparse.ArgumentParser(prog="vagus")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([verb, *(sys.argv[1:] if argv is None else argv)])
    return finish(lambda: args.func(args))
