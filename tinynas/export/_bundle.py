"""``export_bundle``: both halves of an export, written to a temporary folder and moved into place
only when complete."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinynas.codegen import check_supported, generate
from tinynas.errors import ExportError, MissingDependencyError
from tinynas.export import _tflm
from tinynas.export._info import ExportInfo
from tinynas.export._report import report_md
from tinynas.tflite_reader import read_tflite

if TYPE_CHECKING:
    from tinynas.estimator import Estimate
    from tinynas.graph import Graph

#: The manifest every export carries; ``tinynas verify`` reads it, and an existing folder is
#: replaced only when it holds one (so an export never overwrites unrelated files).
MANIFEST = "tinynas_export.json"
MANIFEST_FORMAT = 1


def _inside(folder: Path, name: str) -> Path:
    """``folder / name``, refusing names that would land outside ``folder``."""
    path = (folder / name).resolve()
    if path.parent != folder.resolve():
        raise ExportError(f"refusing to write {name!r}: it would land outside {folder}")
    return path


def _check_destination(out_dir: Path) -> None:
    if out_dir.name in ("", ".", ".."):  # the export is written beside its folder, then renamed
        raise ExportError(f"--out {out_dir}: name the destination folder itself, "
                          f"e.g. --out firmware/model")
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"--out {out_dir}: exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
        raise ExportError(f"--out {out_dir}: folder is not empty and holds no earlier export "
                          f"({MANIFEST}); choose a new or empty folder")


def _estimate(graph: Graph) -> Estimate:
    try:
        from tinynas.estimator import estimate_graph
    except ImportError as exc:
        raise MissingDependencyError(f"the TFLite Micro arena size for model_config.h comes "
                                     f"from tinynas.estimator, which cannot be imported: "
                                     f"{exc}") from None
    return estimate_graph(graph, target="mcu")


def export_bundle(tflite: bytes, out_dir: Path, info: ExportInfo,
                  source: str = "<bytes>") -> list[Path]:
    """Export a full-int8 model for firmware: a TFLite Micro bundle and a generated C runtime.

    Args:
        tflite: The model.
        out_dir: Destination folder; created if missing, replaced if it holds an earlier export.
        info: Where the model comes from and what surrounds it.
        source: How error messages name the model (its path, for instance).

    Returns:
        The written files, inside ``out_dir``.

    Raises:
        ModelFileError: Not a readable full-int8 TFLite model.
        UnsupportedOperatorError: An operator the generated runtime does not implement.
        ExportError: The destination cannot be used or a shape is not supported.
    """
    out_dir = Path(out_dir)
    _check_destination(out_dir)
    graph = read_tflite(tflite, source)
    check_supported(graph)
    estimate = _estimate(graph)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.tmp-"))
    except OSError as exc:
        raise ExportError(f"--out {out_dir}: cannot create it: {exc.strerror or exc}") from None
    try:
        runtime = generate(graph, staging)
        texts = {
            "model_data.h": _tflm.model_data_h(),
            "model_data.cc": _tflm.model_data_cc(tflite),
            "model_op_resolver.h": _tflm.op_resolver_h(graph),
            "model_config.h": _tflm.model_config_h(graph, estimate.arena_bytes, info),
            "main.cc": _tflm.MAIN_CC,
            "report.md": report_md(graph, tflite, runtime, estimate.arena_bytes,
                                   estimate.runtime_bytes, info),
        }
        _inside(staging, "model.tflite").write_bytes(tflite)
        for name, text in texts.items():
            _inside(staging, name).write_text(text)
        names = sorted(["model.tflite", *texts, *(p.name for p in runtime.files), MANIFEST])
        manifest = {
            "format": MANIFEST_FORMAT, "info": info.to_dict(), "files": names,
            "tflm": {"arena_bytes": estimate.arena_bytes, "runtime_bytes": estimate.runtime_bytes,
                     "model_bytes": len(tflite)},
            "runtime": {"arena_bytes": runtime.arena_bytes, "input_bytes": runtime.input_bytes,
                        "output_bytes": runtime.output_bytes, "const_bytes": runtime.const_bytes,
                        "calls": runtime.calls},
        }
        _inside(staging, MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _replace(staging, out_dir)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ExportError(f"--out {out_dir}: cannot write the export: {exc.strerror or exc}"
                          ) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [out_dir / name for name in names]


def _replace(staging: Path, out_dir: Path) -> None:
    """Move ``staging`` to ``out_dir``; an earlier export there is removed only afterwards."""
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    old = out_dir.with_name(f".{out_dir.name}.old-{staging.name.rsplit('-', 1)[-1]}")
    out_dir.rename(old)
    try:
        staging.rename(out_dir)
    except BaseException:
        old.rename(out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of an export folder.

    Raises:
        ExportError: ``folder`` is not an export.
    """
    path = Path(folder) / MANIFEST
    if not Path(folder).is_dir():
        raise ExportError(f"{folder}: no such folder")
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ExportError(f"{folder}: not a tinynas export (no {MANIFEST}); create one with "
                          "`tinynas export`") from None
    except (OSError, ValueError) as exc:
        raise ExportError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ExportError(f"{path}: unknown manifest format; re-export with this version")
    return data
