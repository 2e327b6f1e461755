"""``tinynas calibrate``: fit the latency model's per-operator cycle constants for one core from
``tinynas bench --json`` results, and show estimated against measured counts before and after."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tinynas.boards import CORES
from tinynas.errors import DeviceError


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("--results", required=True, nargs="+", type=Path, metavar="FILE",
                        help="JSON files written by `tinynas bench --json` or `--out`")
    parser.add_argument("--core", choices=CORES,
                        help="core to fit (default: the one the results ran on)")
    parser.add_argument("--out", required=True, type=Path,
                        help="where to write the calibrated profile (JSON)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=_calibrate)


def _calibrate(args: argparse.Namespace) -> int:
    from tinynas.device.calibration import calibrate, load_measurements

    if args.out.exists() and args.out.is_dir():
        raise DeviceError(f"--out {args.out}: is a folder, expected a file name")
    if not args.out.parent.is_dir():
        raise DeviceError(f"--out {args.out}: folder {args.out.parent} does not exist")
    result = calibrate(load_measurements(args.results), args.core)
    result.profile.save(args.out)
    if args.json:
        print(json.dumps(result.to_dict() | {"profile": str(args.out)}, indent=2))
        return 0
    unit = result.count_unit
    print(f"{result.core} profile fitted on {len(result.rows)} models ({unit} per inference)")
    held = any(r.held_out is not None for r in result.rows)
    header = (f"{'model':<28} {'measured':>12} {'before':>12} {'error':>8} {'after':>12} "
              f"{'error':>8}")
    print(header + (f" {'held-out':>9}" if held else ""))
    for r in result.rows:
        line = (f"{r.model[:28]:<28} {r.measured:>12,.0f} {r.before:>12,.0f} "
                f"{r.error(r.before, r.measured):>+8.1%} {r.after:>12,.0f} "
                f"{r.error(r.after, r.measured):>+8.1%}")
        held_out = r.error(r.held_out, r.measured)
        print(line + (f" {held_out:>+9.1%}" if held_out is not None else ""))
    worst = [f"before {result.worst('before'):.1%}", f"after {result.worst('after'):.1%}"]
    if held:
        worst.append(f"held-out {result.worst('held_out'):.1%}")
    print(f"worst error: {', '.join(worst)}")
    print(f"wrote {args.out}")
    return 0
