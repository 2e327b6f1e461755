"""``tinynas export``: a study trial or any full-int8 ``.tflite`` file, for firmware."""

from __future__ import annotations

import argparse
from pathlib import Path

from tinynas.errors import ExportError


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    from tinynas.study import DEFAULT_STORAGE

    parser.add_argument("model", nargs="?", default=None,
                        help="a full-int8 .tflite file (instead of --study)")
    parser.add_argument("--tflite", default=None, metavar="MODEL",
                        help="the same as the MODEL argument")
    parser.add_argument("--storage", default=DEFAULT_STORAGE,
                        help=f"study storage URL (default {DEFAULT_STORAGE})")
    parser.add_argument("--study", default=None, help="the study to export a trial of")
    parser.add_argument("--trial", default="best",
                        help="trial number, or `best` (default): the most accurate feasible one")
    parser.add_argument("--out", required=True, help="destination folder")
    parser.set_defaults(func=_export)


def _trial_arg(text: str) -> int | str:
    if text == "best":
        return text
    try:
        number = int(text)
    except ValueError:
        raise ExportError(f"--trial {text!r}: expected a trial number or `best`") from None
    if number < 0:
        raise ExportError(f"--trial {text!r}: trial numbers start at 0")
    return number


def _export(args: argparse.Namespace) -> int:
    from tinynas.export import ExportInfo, export_bundle, read_manifest

    if args.model is not None and args.tflite is not None:
        raise ExportError("give the model once: as MODEL or as --tflite, not both")
    model_path = args.model if args.model is not None else args.tflite
    if (model_path is None) == (args.study is None):
        raise ExportError("give either a MODEL.tflite file or --study NAME (not both)")
    if model_path is not None:
        # The same reading, and the same refusals, as `tinynas analyze MODEL.tflite`.
        from tinynas.tflite_reader import model_file_bytes

        tflite, info, origin = model_file_bytes(model_path), ExportInfo(), model_path
    else:
        from tinynas.study import trial_model

        model = trial_model(args.storage, args.study, _trial_arg(args.trial))
        tflite, info = model.tflite, ExportInfo.from_trial(model)
        origin = f"study {args.study!r}, trial {model.number}"
    out = Path(args.out)
    files = export_bundle(tflite, out, info, source=origin)
    manifest = read_manifest(out)
    rt, tflm = manifest["runtime"], manifest["tflm"]
    print(f"exported {origin} to {out} ({len(files)} files)")
    print(f"  generated C runtime: arena {rt['arena_bytes']} B + input {rt['input_bytes']} B + "
          f"output {rt['output_bytes']} B, constants {rt['const_bytes']} B; `make -C {out} host`")
    print(f"  TFLite Micro bundle: arena {tflm['arena_bytes']} B (estimated), "
          f"model {tflm['model_bytes']} B")
    return 0
