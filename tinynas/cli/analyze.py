"""``tinynas analyze MODEL.tflite``: per-operator costs, arena, flash, MACs and latency of any
full-int8 model, against a board's limits, optionally beside figures measured with TFLite Micro."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from tinynas.errors import UnsupportedOperatorError

if TYPE_CHECKING:
    from tinynas.boards import Board
    from tinynas.estimator import Estimate


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("model", metavar="MODEL.tflite", help="a full-int8 TFLite model")
    parser.add_argument("--board", metavar="NAME|PATH",
                        help="board name (see `tinynas boards`) or board .toml file")
    parser.add_argument("--target", choices=("mcu", "host"), default="mcu",
                        help="mcu: 32-bit Cortex-M build of TFLite Micro (default); host: the "
                             "64-bit build the tflite-micro Python interpreter runs")
    parser.add_argument("--measure", action="store_true",
                        help="also measure the arena with the tflite-micro interpreter")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=_analyze)


def _analyze(args: argparse.Namespace) -> int:
    from tinynas.boards import load_board
    from tinynas.estimator import estimate_tflite
    from tinynas.tflite_reader import model_file_bytes

    board = load_board(args.board) if args.board else None
    data = model_file_bytes(args.model)
    est = estimate_tflite(data, board, args.target, path=args.model)
    measured = _measure(data, board, est) if args.measure else None
    if args.json:
        out = est.to_dict()
        out["model"] = args.model
        if board is not None:
            out["board"] = board.name
            out["limits"] = est.limits(board)
        if measured is not None:
            out["measured"] = measured
        print(json.dumps(out, indent=2))
    else:
        _print_report(args.model, est, board, measured)
    if est.unknown_ops:
        raise UnsupportedOperatorError(
            f"{args.model}: operators the estimator does not know: {', '.join(est.unknown_ops)} "
            "(rows marked unknown; their costs are generic guesses)")
    return 0


def _measure(data: bytes, board: Board | None, est: Estimate) -> dict[str, Any]:
    """Arena measured with the 64-bit tflite-micro interpreter, beside the host estimate."""
    from tinynas.estimator import estimate_tflite
    from tinynas.measure import min_working_arena, recorded_arena

    host = est if est.target == "host" else estimate_tflite(data, board, "host")
    recorded = recorded_arena(data)
    minimum = min_working_arena(data, low=recorded // 2, high=max(recorded, host.arena_bytes))
    return {"recorded_arena_bytes": recorded, "min_working_arena_bytes": minimum,
            "estimated_host_arena_bytes": host.arena_bytes,
            "host_arena_error": (host.arena_bytes - minimum) / minimum}


def _shapes(shapes: tuple[tuple[int, ...], ...]) -> str:
    return " ".join("x".join(map(str, s)) or "scalar" for s in shapes) or "-"


def _kb(n: float) -> str:
    return f"{n / 1024:.1f} KB"


def _print_report(path: str, est: Estimate, board: Board | None,
                  measured: dict[str, Any] | None) -> None:
    print(f"{path}: {len(est.ops)} operators, target {est.target}")
    print(f"{'#':>3} {'operator':<18} {'inputs':<22} {'outputs':<16} {'MACs':>10} "
          f"{'weights':>8} {'bias':>6} {'scratch':>7}")
    for op in est.ops:
        name = op.opcode if op.known else f"{op.opcode} (unknown)"
        print(f"{op.index:>3} {name:<18} {_shapes(op.input_shapes):<22} "
              f"{_shapes(op.output_shapes):<16} {op.macs:>10,} {op.weight_bytes:>8,} "
              f"{op.bias_bytes:>6,} {op.scratch_bytes:>7,}")
    print(f"arena    {est.arena_bytes:>10,} B  ({est.planned_bytes:,} planned activations and "
          f"scratch + {est.persistent_bytes:,} persistent; sized by the {est.arena_peak} step)")
    kernels = len(dict.fromkeys(op.opcode for op in est.ops))
    print(f"flash    {est.flash_bytes:>10,} B  ({est.model_bytes:,} model + "
          f"{est.runtime_bytes:,} runtime code for {kernels} kernels)")
    print(f"MACs     {est.macs:>10,}     params {est.params:,}")
    if est.latency_ms is not None and board is not None:
        print(f"latency  {est.latency_ms:>10.2f} ms ({est.cycles:,.0f} cycles at "
              f"{board.clock_mhz:g} MHz, {board.core})")
    else:
        print(f"cycles   {est.cycles:>10,.0f}     (give --board for a latency in ms)")
    if board is not None:
        print(f"board {board.name}:")
        for key, row in est.limits(board).items():
            unit = (lambda v: f"{v:.2f} ms") if key == "latency_ms" else _kb
            verdict = "headroom" if row["headroom"] >= 0 else "OVERRUN"
            label = "latency" if key == "latency_ms" else key
            print(f"  {label:<8} {unit(row['estimate']):>12} of {unit(row['limit']):>12}  "
                  f"{verdict} {unit(abs(row['headroom']))}")
    if measured is not None:
        print(f"measured (tflite-micro, 64-bit host): recorded arena "
              f"{measured['recorded_arena_bytes']:,} B, minimum working arena "
              f"{measured['min_working_arena_bytes']:,} B; host estimate "
              f"{measured['estimated_host_arena_bytes']:,} B "
              f"({measured['host_arena_error']:+.1%})")
