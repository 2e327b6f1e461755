"""``tinynas estimate``: the analytic estimate of one architecture, as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tinynas.errors import SearchSpaceError


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("--board", required=True, help="board name or constraint file")
    parser.add_argument("--space", required=True, help="search-space name or file")
    parser.add_argument("--params", required=True,
                        help="the architecture as JSON (a trial's `arch` attribute), or @FILE")
    parser.add_argument("--input-shape", default=None,
                        help="sample shape, e.g. 49,10,1 (default: the smallest the space "
                             "file names, or 8,8,1)")
    parser.add_argument("--classes", type=int, default=10, help="number of classes")
    parser.add_argument("--compression", default=None,
                        help="compression settings as JSON (channel pruning changes shapes)")
    parser.add_argument("--target", choices=("mcu", "host"), default="mcu")
    parser.set_defaults(func=_estimate)


def _json_arg(text: str, flag: str) -> dict[str, Any]:
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as exc:
            raise SearchSpaceError(f"{flag} {text}: cannot read: {exc.strerror}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SearchSpaceError(
            f"{flag}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(value, dict):
        raise SearchSpaceError(f"{flag}: expected a JSON object, got {type(value).__name__}")
    return value


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise SearchSpaceError(f"--input-shape {text!r}: expected integers separated by commas, "
                               f"e.g. 49,10,1") from None
    if not shape or any(d < 1 for d in shape):
        raise SearchSpaceError(f"--input-shape {text!r}: every dimension must be at least 1")
    return shape


def _estimate(args: argparse.Namespace) -> int:
    from tinynas.boards import load_board
    from tinynas.estimator import estimate_graph
    from tinynas.spaces import Compression, load_space

    board = load_board(args.board)
    space = load_space(args.space)
    arch_dict = _json_arg(args.params, "--params")
    try:
        arch = space.arch_from_dict(arch_dict)
    except (TypeError, ValueError) as exc:
        raise SearchSpaceError(
            f"--params: not an architecture of space {space.name!r}: {exc}") from None
    if args.classes < 2:
        raise SearchSpaceError(f"--classes must be at least 2, got {args.classes}")
    if args.compression:
        try:
            compression = Compression.from_dict(_json_arg(args.compression, "--compression"))
        except TypeError as exc:
            raise SearchSpaceError(f"--compression: {exc}") from None
        arch = space.effective_arch(arch, compression)
    data_shape = _shape(args.input_shape) if args.input_shape else space.default_input_shape()
    input_shape = space.model_input_shape(data_shape)
    graph = space.graph(arch, input_shape, args.classes)
    est = estimate_graph(graph, board, target=args.target)
    out = est.to_dict()
    out.update(board=board.name, space=space.name, input_shape=list(data_shape),
               classes=args.classes, arch=arch.to_dict(), summary=space.describe(arch),
               fits={"ram": est.arena_bytes <= board.ram_limit,
                     "flash": est.flash_bytes <= board.flash_limit,
                     "latency": (est.latency_ms or 0) <= board.latency_ms})
    print(json.dumps(out, indent=2))
    return 0
