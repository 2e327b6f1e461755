"""``tinynas bench``: run an exported model on a board or on QEMU and measure it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tinynas.errors import DeviceError

if TYPE_CHECKING:
    from collections.abc import Callable

    from tinynas.device.bench import BenchResult

EMULATED = ("cortex-m3", "cortex-m4", "cortex-m7")


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("--model", required=True, type=Path,
                        help="exported bundle (model.tflite and the generated C runtime)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="serial port or pyserial URL of a flashed board, e.g. "
                                      "/dev/ttyACM0 or socket://127.0.0.1:4000")
    where.add_argument("--emulate", choices=EMULATED,
                       help="build the firmware and run it under QEMU on this core")
    parser.add_argument("--board", help="board name or file: its clock turns counts into ms")
    parser.add_argument("--dataset", help="dataset whose test split runs on the device (default: "
                                          "the one the bundle records)")
    parser.add_argument("--seed", type=int, default=None,
                        help="split seed the model was trained with "
                             "(default: the bundle's, else 0)")
    parser.add_argument("--limit", type=int, help="run at most this many test samples")
    parser.add_argument("--random", type=int, default=0, metavar="N",
                        help="time N random inputs instead of a dataset (no accuracy)")
    parser.add_argument("--profile", type=Path,
                        help="calibrated latency profile (from `tinynas calibrate`) to compare")
    parser.add_argument("--baud", type=int, default=115200, help="baud rate of --port")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds to wait for each answer (default 5)")
    parser.add_argument("--retries", type=int, default=3,
                        help="extra attempts after a lost or garbled answer (default 3)")
    parser.add_argument("--opt", default="O2", choices=("O2", "O3", "Os"),
                        help="compiler optimisation of the firmware (default O2)")
    parser.add_argument("--out", type=Path, help="also write the JSON result to this file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    from tinynas.boards import load_board
    from tinynas.device.bench import bundle_dataset, run_bench

    for flag, value, low in (("--limit", args.limit, 1), ("--random", args.random, 0),
                             ("--baud", args.baud, 1), ("--retries", args.retries, 0)):
        if value is not None and value < low:
            raise DeviceError(f"{flag} must be >= {low}, got {value}")
    if args.timeout <= 0:
        raise DeviceError(f"--timeout must be > 0 seconds, got {args.timeout}")
    board = load_board(args.board) if args.board else None
    profile = _profile(args.profile) if args.profile else None
    dataset, seed = args.dataset, args.seed
    if dataset is None and not args.random:
        dataset, recorded_seed = bundle_dataset(args.model)
        seed = recorded_seed if seed is None else seed
    result = run_bench(args.model, port=args.port, emulate=args.emulate, board=board,
                       dataset=dataset, seed=seed or 0, limit=args.limit, random=args.random,
                       baud=args.baud, timeout=args.timeout, retries=args.retries,
                       profile=profile, opt=f"-{args.opt}", progress=_progress())
    if args.out:
        from tinynas.study import atomic_write

        atomic_write(args.out, json.dumps(result.to_dict(), indent=2) + "\n")
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(format_result(result))
    return 0


def _profile(path: Path):  # type: ignore[no-untyped-def]
    from tinynas.latency import CoreProfile

    if not path.is_file():
        raise DeviceError(f"--profile {path}: no such file")
    return CoreProfile.load(path)


def _progress() -> Callable[[int, int], None] | None:
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        sys.stderr.write(f"\r\x1b[2Kinference {done}/{total}")
        if done == total:
            sys.stderr.write("\r\x1b[2K")
        sys.stderr.flush()

    return show


def _percent(estimate: float | None, measured: float) -> str:
    return "" if estimate is None else f" ({(estimate - measured) / measured:+.1%} vs measured)"


def format_result(r: BenchResult) -> str:
    """The human-readable report of one bench run."""
    unit = r.count_unit
    lines = [f"model        {r.model}", f"device       {r.device} ({r.core})"]
    if r.emulated:
        lines.append("             QEMU with -icount: counts are instructions, not cycles")
    if r.accuracy is not None:
        lines.append(f"inputs       {r.inputs}")
        lines.append(f"accuracy     {r.accuracy:.4f} on the device, {r.host_accuracy:.4f} on the "
                     f"host")
    else:
        lines.append(f"inputs       {r.inputs} (no accuracy)")
    lines.append(f"bit-exact    {r.samples - (r.mismatches or 0)}/{r.samples} outputs identical "
                 f"to the runtime built for the host")
    lines.append(f"per inference {r.cycles_per_inference:,.0f} {unit} "
                 f"(min {r.cycles_min:,.0f}, max {r.cycles_max:,.0f})")
    if r.cycles_per_mac is not None:
        lines.append(f"MACs         {r.macs:,}: {r.cycles_per_mac:.2f} {unit} per MAC")
    if r.latency_ms is not None:
        assumption = ", one instruction per cycle" if r.emulated else ""
        lines.append(f"latency      {r.latency_ms:.3f} ms at {r.clock_mhz:g} MHz ({r.board}"
                     f"{assumption})")
    if r.estimated_cycles is not None:
        lines.append(f"estimated    {r.estimated_cycles:,.0f} with the default {r.core} profile"
                     f"{_percent(r.estimated_cycles, r.cycles_per_inference)}")
    if r.calibrated_cycles is not None:
        lines.append(f"calibrated   {r.calibrated_cycles:,.0f}"
                     f"{_percent(r.calibrated_cycles, r.cycles_per_inference)}")
    s = r.sections
    lines.append(f"flash        {r.flash_bytes:,} bytes (text {s.get('.text', 0):,} + rodata "
                 f"{s.get('.rodata', 0):,} + data {s.get('.data', 0):,}; {r.firmware_cpu} build)")
    lines.append(f"RAM          {r.ram_bytes:,} bytes (data {s.get('.data', 0):,} + bss "
                 f"{s.get('.bss', 0):,} + stack high-water {r.stack_used:,})")
    if r.resends or r.resets:
        lines.append(f"link         {r.resends} requests sent again, {r.resets} device resets")
    return "\n".join(lines)
