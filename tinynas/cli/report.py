"""``tinynas report``: an HTML report of a study, with Markdown and PNG figures beside it."""

from __future__ import annotations

import argparse
from pathlib import Path

from tinynas import study as studies


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("--storage", default=studies.DEFAULT_STORAGE, help="study database URL")
    parser.add_argument("--study", required=True, help="study name")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: reports/STUDY)")
    parser.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from tinynas.dashboard import check_database
    from tinynas.report import write_report

    check_database(args.storage)
    study = studies.open_study(args.storage, args.study)
    out = args.out if args.out is not None else Path("reports") / args.study
    paths = write_report(study, out)
    figures = sum(1 for p in paths if p.suffix == ".png")
    print(f"wrote {out / 'report.html'} and {out / 'report.md'} ({figures} figures in "
          f"{out / 'figures'})")
    return 0
