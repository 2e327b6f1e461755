"""``tinynas dashboard``: browse the studies of a storage in optuna-dashboard."""

from __future__ import annotations

import argparse
import signal
import sys

from tinynas import study as studies


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535 (0: any free "
                                         f"port), got {text!r}")
    return int(text)


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("--storage", default=studies.DEFAULT_STORAGE, help="study database URL")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=_port, default=8080,
                        help="port to listen on (default 8080; 0 picks a free one)")
    parser.set_defaults(func=_dashboard)


def _dashboard(args: argparse.Namespace) -> int:
    from tinynas.dashboard import Dashboard

    dashboard = Dashboard(args.storage, host=args.host, port=args.port)
    names = ", ".join(dashboard.study_names) or "none yet"
    print(f"optuna-dashboard for {args.storage} (studies: {names})")
    print(f"open {dashboard.url}  (Ctrl-C stops it)", flush=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        dashboard.serve()
    except KeyboardInterrupt:
        sys.stderr.write("tinynas dashboard: stopped\n")
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    """A service manager's SIGTERM stops the server as cleanly as Ctrl-C does."""
    raise KeyboardInterrupt
