"""``tinynas boards`` and ``tinynas spaces``."""

from __future__ import annotations

import argparse
import json

from tinynas.boards import board_names, load_board


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=_boards if name == "boards" else _spaces)


def _boards(args: argparse.Namespace) -> int:
    boards = [load_board(n) for n in board_names()]
    if args.json:
        print(json.dumps([b.to_dict() for b in boards], indent=2))
        return 0
    print(f"{'board':<20} {'core':<14} {'MHz':>5} {'RAM KB':>7} {'model RAM':>9} "
          f"{'flash KB':>8} {'model flash':>11} {'latency':>8}")
    for b in boards:
        print(f"{b.name:<20} {b.core:<14} {b.clock_mhz:>5g} {b.ram_bytes // 1024:>7} "
              f"{b.ram_limit // 1024:>8}K {b.flash_bytes // 1024:>8} {b.flash_limit // 1024:>10}K "
              f"{b.latency_ms:>6g}ms")
    return 0


def _spaces(args: argparse.Namespace) -> int:
    from tinynas.spaces import load_space, space_names

    spaces = [load_space(n) for n in space_names()]
    if args.json:
        print(json.dumps([{"name": s.name, "family": s.config.family,
                           "description": s.config.description,
                           "input_ranks": list(s.config.input_ranks)} for s in spaces], indent=2))
        return 0
    name_w = max(len("space"), *(len(s.name) for s in spaces))
    family_w = max(len("family"), *(len(s.config.family) for s in spaces))
    print(f"{'space':<{name_w}}  {'family':<{family_w}}  {'inputs':<8} description")
    for s in spaces:
        ranks = "/".join(f"{r}-D" for r in s.config.input_ranks)
        print(f"{s.name:<{name_w}}  {s.config.family:<{family_w}}  {ranks:<8} "
              f"{s.config.description}")
    return 0
