"""``tinynas pareto``."""

from __future__ import annotations

import argparse
import json

from tinynas import study as studies


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("--storage", default=studies.DEFAULT_STORAGE, help="study database URL")
    parser.add_argument("--study", required=True, help="study name")
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    parser.set_defaults(func=_pareto)


def _pareto(args: argparse.Namespace) -> int:
    from tinynas.pareto import format_table, pareto_rows

    study = studies.open_study(args.storage, args.study)
    rows = pareto_rows(study)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    board = study.user_attrs.get("board", {})
    if board:
        print(f"study {args.study}: board {board.get('name')} (RAM limit "
              f"{board.get('ram_bytes', 0) - board.get('ram_reserve_bytes', 0)} B, flash limit "
              f"{board.get('flash_bytes', 0) - board.get('flash_reserve_bytes', 0)} B, latency "
              f"{board.get('latency_ms')} ms)")
    if not rows:
        print("no feasible trained trial yet")
        return 0
    print(format_table(rows))
    return 0
