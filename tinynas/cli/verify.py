"""``tinynas verify``: build an export's C runtime and compare it byte for byte with TFLite."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("folder", help="a folder written by `tinynas export`")
    parser.add_argument("--inputs", type=int, default=200,
                        help="inputs to compare: half from the test split when the export "
                             "knows its dataset, the rest random (default 200)")
    parser.add_argument("--sanitize", action="store_true",
                        help="build with -fsanitize=address,undefined")
    parser.set_defaults(func=_verify)


def _verify(args: argparse.Namespace) -> int:
    from tinynas.export import verify_bundle

    result = verify_bundle(Path(args.folder), inputs=args.inputs, sanitize=args.sanitize)
    print(result.summary())
    if result.first_mismatch is not None:
        m = result.first_mismatch
        sys.stderr.write(f"tinynas verify: input {m.index} ({m.source}) differs: expected "
                         f"{list(m.expected)[:16]}, got {list(m.got)[:16]}\n")
        if result.first_difference:
            sys.stderr.write(f"tinynas verify: first difference: {result.first_difference}\n")
        return 1
    return 0
