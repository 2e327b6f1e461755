"""Fitting the latency model's per-operator constants for one core from bench results.

Each bench result names its ``.tflite`` (with a hash), so the estimator recomputes the graph's
per-operator MACs; the measured total per inference is what the fit must reproduce. The report
puts the estimate before calibration (the core's default profile), after it, and, with three
models or more, for each model with a profile fitted on the others only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinynas.errors import DeviceError

if TYPE_CHECKING:
    from tinynas.graph import Graph
    from tinynas.latency import CoreProfile

_REQUIRED = ("model", "model_sha256", "core", "count_unit", "cycles_per_inference")


@dataclass(frozen=True)
class Measurement:
    """One benchmarked model.

    Attributes:
        name: The result's ``name``, else the bundle folder's or the model file's name.
        source: The results file it came from.
        graph: The model's graph.
        measured: Counts per inference on the device.
        count_unit: ``"cycles"`` or ``"instructions"``.
        core: The core it ran on.
    """

    name: str
    source: str
    graph: Graph
    measured: float
    count_unit: str
    core: str


@dataclass
class CalibrationRow:
    """Estimated against measured counts for one model."""

    model: str
    measured: float
    before: float
    after: float
    held_out: float | None = None

    @staticmethod
    def error(estimate: float | None, measured: float) -> float | None:
        """Relative error of ``estimate``."""
        return None if estimate is None else (estimate - measured) / measured

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready row with relative errors."""
        return {"model": self.model, "measured": self.measured, "before": self.before,
                "after": self.after, "held_out": self.held_out,
                "error_before": self.error(self.before, self.measured),
                "error_after": self.error(self.after, self.measured),
                "error_held_out": self.error(self.held_out, self.measured)}


@dataclass
class Calibration:
    """A fitted profile and how well it reproduces the measurements."""

    profile: CoreProfile
    core: str
    count_unit: str
    rows: list[CalibrationRow] = field(default_factory=list)

    def worst(self, column: str) -> float | None:
        """Largest absolute relative error of ``before``, ``after`` or ``held_out``."""
        errors = [CalibrationRow.error(getattr(r, column), r.measured) for r in self.rows]
        known = [abs(e) for e in errors if e is not None]
        return max(known) if known else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report (the profile itself is written separately)."""
        return {"core": self.core, "count_unit": self.count_unit,
                "rows": [r.to_dict() for r in self.rows],
                "worst_error_before": self.worst("before"),
                "worst_error_after": self.worst("after"),
                "worst_error_held_out": self.worst("held_out")}


def load_measurements(paths: list[Path]) -> list[Measurement]:
    """Read ``tinynas bench --json`` outputs (one object or a list of them per file).

    Args:
        paths: Results files.

    Returns:
        One measurement per benchmarked model.

    Raises:
        DeviceError: A file is unreadable, lacks a field, its model is missing or changed, or
            the files mix cores or count units.
    """
    from tinynas.tflite_reader import read_tflite

    measurements = []
    for path in paths:
        for record in _records(Path(path)):
            model = Path(record["model"])
            try:
                tflite = model.read_bytes()
            except OSError:
                raise DeviceError(f"{path}: model {model} no longer exists") from None
            if hashlib.sha256(tflite).hexdigest() != record["model_sha256"]:
                raise DeviceError(f"{path}: {model} changed since it was benchmarked; bench it "
                                  f"again")
            measured = record["cycles_per_inference"]
            if not isinstance(measured, int | float) or measured <= 0:
                raise DeviceError(f"{path}: cycles_per_inference must be a positive number, got "
                                  f"{measured!r}")
            name = record.get("name") or (model.parent.name if model.name == "model.tflite"
                                          else model.name)
            measurements.append(Measurement(str(name), str(path), read_tflite(tflite, str(model)),
                                            float(measured), str(record["count_unit"]),
                                            str(record["core"])))
    if not measurements:
        raise DeviceError("no bench results given")
    for key in ("count_unit", "core"):
        values = sorted({getattr(m, key) for m in measurements})
        if len(values) > 1:
            raise DeviceError(f"the results mix {key.replace('_', ' ')}s ({', '.join(values)}); "
                              f"calibrate one {key.replace('_', ' ')} at a time")
    return measurements


def _records(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise DeviceError(f"{path}: cannot read: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DeviceError(f"{path}: not a JSON file from `tinynas bench --json` ({exc})") from None
    records = data if isinstance(data, list) else [data]
    for record in records:
        if not isinstance(record, dict):
            raise DeviceError(f"{path}: expected bench result objects, got {type(record).__name__}")
        missing = [k for k in _REQUIRED if k not in record]
        if missing:
            raise DeviceError(f"{path}: not a `tinynas bench --json` result: missing "
                              f"{', '.join(missing)}")
    return records


def calibrate(measurements: list[Measurement], core: str | None = None) -> Calibration:
    """Fit a profile for ``core`` and compare estimates with the measurements.

    Args:
        measurements: From :func:`load_measurements`.
        core: Core to fit; defaults to the one the measurements ran on.

    Returns:
        The fitted profile with before, after and held-out estimates per model.
    """
    from tinynas.latency import default_profile, fit_profile, predict_cycles

    core = core or measurements[0].core
    observations = [(m.graph, m.measured) for m in measurements]
    profile = fit_profile(core, observations)
    before = default_profile(core)
    rows = []
    for index, m in enumerate(measurements):
        held_out = None
        if len(measurements) >= 3:
            others = observations[:index] + observations[index + 1:]
            held_out = predict_cycles(fit_profile(core, others), m.graph)
        rows.append(CalibrationRow(m.name, m.measured, predict_cycles(before, m.graph),
                                   predict_cycles(profile, m.graph), held_out))
    return Calibration(profile, core, measurements[0].count_unit, rows)
