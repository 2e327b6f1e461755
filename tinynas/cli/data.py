"""``tinynas data list|info|synth-kws``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from tinynas.datasets import builtins, load_dataset


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    lister = actions.add_parser("list", help="list the built-in datasets")
    lister.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lister.set_defaults(func=_list)
    info = actions.add_parser("info", help="load a dataset and show its shapes, classes, splits")
    info.add_argument("dataset", metavar="NAME",
                      help="built-in name or path (.npz, folder of WAV/CSV per class, IDX "
                           "folder); NAME:N keeps at most N samples")
    info.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=_info)
    synth = actions.add_parser("synth-kws",
                               help="synthesize the kws_synth keyword set with espeak-ng and sox")
    synth.add_argument("--out", required=True, type=Path, help="new folder to write")
    synth.add_argument("--per-word", type=int, default=None,
                       help="clips per keyword, unknown and silence class (default 100)")
    synth.add_argument("--seed", type=int, default=0, help="voices, split and variation seed")
    synth.add_argument("--jobs", type=int, default=None, help="parallel processes (default: CPUs)")
    synth.set_defaults(func=_synth)


def _list(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = [{"name": b.name, "modality": b.modality, "shape": list(b.shape),
             "classes": b.classes, "description": b.description, "missing": b.missing()}
            for b in builtins()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'dataset':<15} {'modality':<11} {'sample shape':<13} {'classes':>7}  description")
    for r in rows:
        shape = "x".join(map(str, r["shape"]))
        print(f"{r['name']:<15} {r['modality']:<11} {shape:<13} {r['classes']:>7}  "
              f"{r['description']}")
        if r["missing"]:
            print(f"{'':<15} unavailable: {r['missing']}")
    return 0


def _info(args: argparse.Namespace) -> int:
    started = time.monotonic()
    data = load_dataset(args.dataset, seed=args.seed)
    seconds = time.monotonic() - started
    info = data.summary()
    if args.json:
        print(json.dumps({**info, "load_seconds": round(seconds, 3)}, indent=2))
        return 0
    sizes = info["split_sizes"]
    split = data.preprocessing["split"]
    print(f"dataset      {data.name}")
    print(f"source       {data.source}")
    print(f"modality     {data.modality}")
    print(f"sample shape {'x'.join(map(str, data.input_shape))}")
    print(f"split        train {sizes['train']}, validation {sizes['val']}, test "
          f"{sizes['test']} ({split['method']}, seed {split['seed']})")
    for key in ("features", "window"):
        if key in data.preprocessing:
            params = ", ".join(f"{k}={v}" for k, v in data.preprocessing[key].items())
            print(f"{key:<12} {params}")
    if data.background is not None:
        print(f"background   {len(data.background)} noise clips for augmentation")
    print(f"loaded in    {seconds:.2f} s")
    width = max(len(n) for n in data.class_names)
    print(f"\n{'class':<{width}} {'train':>7} {'val':>7} {'test':>7}")
    counts = info["class_counts"]
    for i, n in enumerate(data.class_names):
        print(f"{n:<{width}} {counts['train'][i]:>7} {counts['val'][i]:>7} {counts['test'][i]:>7}")
    return 0


def _synth(args: argparse.Namespace) -> int:
    from tinynas.datasets._kws_synth import DEFAULT_PER_WORD, generate

    manifest = generate(args.out, per_word=args.per_word or DEFAULT_PER_WORD, seed=args.seed,
                        jobs=args.jobs)
    speakers = {k: len(v) for k, v in manifest["speakers"].items()}
    print(f"wrote {manifest['clips']} clips to {args.out} in {manifest['seconds']:.1f} s "
          f"({manifest['per_word']} per class; voices: train {speakers['train']}, validation "
          f"{speakers['val']}, test {speakers['test']}, never shared)")
    print(f"use it with --dataset {args.out}")
    return 0
