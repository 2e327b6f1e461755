"""``tinynas collect``: record a sensor stream from a serial port into CSV files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinynas.errors import DeviceError


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("--port", required=True,
                        help="device path (/dev/ttyACM0) or pyserial URL (socket://HOST:PORT)")
    parser.add_argument("--label", required=True, help="class label of what is recorded")
    parser.add_argument("--out", required=True, type=Path,
                        help="dataset folder; the file goes to OUT/LABEL/")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop after this long (default: until Ctrl-C or disconnect)")
    parser.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    parser.set_defaults(func=_collect)


def _collect(args: argparse.Namespace) -> int:
    from tinynas.collect import record

    def started() -> None:
        until = f"for {args.seconds:g} s" if args.seconds else "until Ctrl-C"
        sys.stderr.write(f"recording {args.label!r} from {args.port} {until}\n")

    result = record(args.port, args.label, args.out, seconds=args.seconds, baud=args.baud,
                    on_start=started)
    if result.path is None:
        raise DeviceError(
            f"--port {args.port}: no samples received ({result.skipped} unreadable lines, "
            f"{result.stopped}); the device must print one line of comma- or tab-separated "
            "numbers per sample, check --baud")
    rate = f"{result.rate_hz:.1f} Hz" if result.rate_hz else "unknown rate"
    print(f"{result.path}: {result.samples} samples x {result.channels} values, {rate} "
          f"(detected) over {result.seconds:.2f} s; skipped {result.skipped} garbled or short "
          f"lines; stopped: {result.stopped}")
    return 0
