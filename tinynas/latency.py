"""Latency model: cycles per unit of work by operator class, per core, and its calibration.

cycles = invoke overhead + sum over operators of (cycles per unit x work + per-operator overhead),
where work is MACs for convolutions and fully connected layers and elements for the rest
(:mod:`tinynas.opcount`). MAC operators also pay per output element (requantization, clamp and
store: key ``"<class>/output"``) and convolutions per kernel row of each output (set-up of one
clipped window row: key ``"<class>/row"``); charging MACs alone misjudges models whose layers
are shallow or whose kernels are small. Latency in ms = cycles / (clock MHz x 1000).

Default constants model TFLite Micro's portable reference kernels (no CMSIS-NN, no ESP-NN),
which is what a firmware built from the pip-installed sources runs. Where a constant comes from a
published figure the source is given beside it; the others are stated assumptions, and
:func:`fit_profile` replaces all of them with a least-squares fit to measured cycle counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinynas.boards import CORES
from tinynas.errors import BoardFileError, unknown_name
from tinynas.opcount import CLASSES, op_work

if TYPE_CHECKING:
    from tinynas.graph import Graph
    from tinynas.opcount import OpWork

#: Cortex-M4, reference kernels: cycles per unit of work by class.
_M4_CYCLES_PER_UNIT = {
    # MLPerf Tiny v0.5/v1.0 reference submissions (TFLite Micro reference kernels, NUCLEO-L4R5ZI,
    # Cortex-M4 at 120 MHz) take about 8 cycles per MAC over whole models dominated by
    # convolutions; optimized CMSIS-NN kernels take about 3.
    "conv": 8.0,
    # Assumption: the reference depthwise loop reloads each input per output channel and has
    # k*k MACs per output, so it is less efficient per MAC than a convolution (x1.25).
    "depthwise": 10.0,
    # Assumption: the fully connected inner loop is a plain dot product (x0.75 of convolution).
    "fully_connected": 6.0,
    # Assumption: one load, compare or add per window element, plus loop control.
    "pool": 4.0,
    # Assumption: one load and add per input element, plus loop control.
    "reduce": 3.0,
    # Assumption: int8 ADD/SUB/MUL requantize each element with 64-bit fixed-point multiplies
    # (MultiplyByQuantizedMultiplier, two or three per element in the reference kernels).
    "elementwise": 40.0,
    # Assumption: int8 LOGISTIC/TANH use fixed-point polynomial evaluation per element.
    "activation": 30.0,
    # Assumption: fixed-point exp and a reciprocal per element, two passes over the row.
    "softmax": 150.0,
    # Assumption: reshapes, splits and concatenations are memcpy, about 2 cycles per byte.
    "data": 2.0,
    # Assumption for operators the model does not know.
    "other": 20.0,
    # Assumption: the per-MAC figures above are whole-model averages that already absorb most of
    # the per-output requantization (MultiplyByQuantizedMultiplier with 64-bit products, clamp,
    # store) and the window set-up, so the separate terms start small; calibration
    # (`tinynas calibrate`) sizes them for the kernels a firmware actually runs.
    "conv/output": 20.0,
    "depthwise/output": 20.0,
    "fully_connected/output": 20.0,
    "conv/row": 5.0,
    "depthwise/row": 5.0,
}
#: Assumption: kernel dispatch, eval-tensor lookups and parameter setup per operator invocation.
_M4_OVERHEAD_PER_OP = 1200.0
#: Assumption: MicroInterpreter::Invoke bookkeeping per inference.
_M4_INVOKE_CYCLES = 3000.0

#: Cycles relative to a Cortex-M4 for plain C code: inverse ratio of the cores' CoreMark/MHz as
#: published by Arm (Cortex-M0+ 2.46, M3 3.34, M4 3.42, M7 5.01, M33 4.02 CoreMark/MHz).
_CORE_SCALE = {
    "cortex-m0plus": 3.42 / 2.46,
    "cortex-m3": 3.42 / 3.34,
    "cortex-m4": 1.0,
    "cortex-m7": 3.42 / 5.01,
    "cortex-m33": 3.42 / 4.02,
    # Assumption: Xtensa LX6 (ESP32) runs portable C about 20% slower per clock than a
    # Cortex-M4 (no single-cycle 32x32->64 multiply-accumulate in the base ISA).
    "xtensa-lx6": 1.2,
    # Assumption: LX7 (ESP32-S3) without ESP-NN is on par with a Cortex-M4 per clock.
    "xtensa-lx7": 1.0,
}


@dataclass
class CoreProfile:
    """Cycle constants of one core.

    Attributes:
        core: Core family (one of :data:`tinynas.boards.CORES`).
        cycles_per_unit: Cycles per unit of work for each operator class.
        overhead_per_op: Cycles per operator invocation, for each class.
        invoke_cycles: Cycles per inference outside operators.
        source: Where the constants come from (defaults, or a fit and its data).
    """

    core: str
    cycles_per_unit: dict[str, float]
    overhead_per_op: dict[str, float]
    invoke_cycles: float
    source: str = ""
    observations: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def op_cycles(self, op_class: str, work: int, outputs: int = 0, rows: int = 0) -> float:
        """Cycles of one operator of ``op_class`` doing ``work`` units.

        Args:
            op_class: Latency class.
            work: Units of work (MACs for MAC operators).
            outputs: Output elements of a MAC operator.
            rows: Kernel rows of a convolution (output elements x kernel height).

        Returns:
            Cycles of the operator.
        """
        return (self.cycles_per_unit.get(op_class, self.cycles_per_unit["other"]) * work
                + self.cycles_per_unit.get(f"{op_class}/output", 0.0) * outputs
                + self.cycles_per_unit.get(f"{op_class}/row", 0.0) * rows
                + self.overhead_per_op.get(op_class, self.overhead_per_op["other"]))

    def work_cycles(self, work: OpWork) -> float:
        """Cycles of one operator whose work :func:`tinynas.opcount.op_work` counted."""
        return self.op_cycles(work.op_class, work.work, work.outputs, work.rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready constants."""
        return {"core": self.core, "cycles_per_unit": dict(self.cycles_per_unit),
                "overhead_per_op": dict(self.overhead_per_op),
                "invoke_cycles": self.invoke_cycles, "source": self.source,
                "observations": self.observations, **({"extra": self.extra} if self.extra else {})}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CoreProfile:
        """Rebuild from :meth:`to_dict` output (missing classes take the core's defaults).

        Raises:
            BoardFileError: Not a profile: a field is missing or not a number.
        """
        try:
            core = str(data["core"])
            base = default_profile(core)
            per_unit = {**base.cycles_per_unit, **{str(k): float(v) for k, v in
                                                  dict(data.get("cycles_per_unit", {})).items()}}
            overhead = {**base.overhead_per_op, **{str(k): float(v) for k, v in
                                                  dict(data.get("overhead_per_op", {})).items()}}
            return cls(core, per_unit, overhead,
                       float(data.get("invoke_cycles", base.invoke_cycles)),
                       str(data.get("source", "")), int(data.get("observations", 0)),
                       dict(data.get("extra", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise BoardFileError(f"not a core profile: {exc}") from None

    def save(self, path: Path | str) -> None:
        """Write the profile as JSON (to a temporary file renamed into place)."""
        target = Path(path)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        tmp.replace(target)

    @classmethod
    def load(cls, path: Path | str) -> CoreProfile:
        """Read a profile written by :meth:`save`.

        Raises:
            BoardFileError: The file is missing or not a profile.
        """
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise BoardFileError(f"{path}: no such profile file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BoardFileError(f"{path}: not a JSON core profile ({exc})") from None
        if not isinstance(data, dict):
            raise BoardFileError(f"{path}: not a JSON core profile (expected an object)")
        try:
            return cls.from_dict(data)
        except BoardFileError as exc:
            raise BoardFileError(f"{path}: {exc}") from None


def default_profile(core: str) -> CoreProfile:
    """The uncalibrated profile of ``core`` (reference kernels).

    Raises:
        UnknownNameError: Not a known core family.
    """
    if core not in _CORE_SCALE:
        raise unknown_name("core", core, list(CORES))
    scale = _CORE_SCALE[core]
    return CoreProfile(
        core=core,
        cycles_per_unit={c: v * scale for c, v in _M4_CYCLES_PER_UNIT.items()},
        overhead_per_op={c: _M4_OVERHEAD_PER_OP * scale for c in CLASSES},
        invoke_cycles=_M4_INVOKE_CYCLES * scale,
        source="defaults: Cortex-M4 reference-kernel constants (see tinynas/latency.py) "
               f"scaled by {scale:.2f} for {core}",
    )


def graph_features(graph: Graph) -> dict[str, float]:
    """The columns the latency model is linear in, summed over the graph.

    ``work:<key>`` multiplies ``cycles_per_unit[<key>]`` (work, outputs and kernel rows per
    class), ``ops:<class>`` multiplies ``overhead_per_op[<class>]``.
    """
    features: dict[str, float] = {}
    for op in graph.operators:
        work = op_work(graph, op)
        for key, amount in ((f"work:{work.op_class}", work.work),
                            (f"work:{work.op_class}/output", work.outputs),
                            (f"work:{work.op_class}/row", work.rows),
                            (f"ops:{work.op_class}", 1)):
            if amount:
                features[key] = features.get(key, 0) + amount
    return features


def predict_cycles(profile: CoreProfile, graph: Graph) -> float:
    """Cycles per inference of ``graph`` under ``profile``."""
    return profile.invoke_cycles + sum(profile.work_cycles(op_work(graph, op))
                                       for op in graph.operators)


def fit_profile(core: str, observations: list[tuple[Graph, float]],
                prior_weight: float = 1e-4) -> CoreProfile:
    """Fit a core's constants to measured cycles per inference.

    The model is linear in its constants, so each constant is a column (work or operator count
    of one class, summed over the graph). Constants are fitted as multiples of the defaults by
    least squares on relative errors, with a weak pull towards the defaults: with few
    measurements, constants the data cannot separate stay near their prior instead of taking
    arbitrary values. Classes no measured graph uses keep their defaults.

    Args:
        core: Core family.
        observations: (graph, measured cycles per inference) pairs.
        prior_weight: Strength of the pull towards the defaults. The default is weak: the
            generated kernels run 2 to 4 times faster per MAC than the reference-kernel
            defaults, and a strong pull kept the 16-model device benchmark 25 % off, where
            1e-4 fits it within 6 % (BENCHMARKS.md, "Device").

    Returns:
        The fitted profile.

    Raises:
        ValueError: No observation, or a non-positive measurement.
    """
    import numpy as np

    if not observations:
        raise ValueError("fit_profile needs at least one (graph, cycles) observation")
    base = default_profile(core)
    columns: list[tuple[str, str]] = []
    rows = [graph_features(g) for g, _ in observations]
    for key in base.cycles_per_unit:
        if any(r.get(f"work:{key}", 0) for r in rows):
            columns.append(("work", key))
    for cls in CLASSES:
        if any(r.get(f"ops:{cls}", 0) for r in rows):
            columns.append(("ops", cls))
    prior = np.array([base.cycles_per_unit[c] if k == "work" else base.overhead_per_op[c]
                      for k, c in columns] + [base.invoke_cycles])
    design = np.array([[r.get(f"{k}:{c}", 0.0) for k, c in columns] + [1.0] for r in rows])
    measured = np.array([float(m) for _, m in observations])
    if (measured <= 0).any():
        raise ValueError("measured cycles must be positive")
    scaled = design * prior / measured[:, None]
    regularizer = np.sqrt(prior_weight) * np.eye(len(prior))
    a = np.vstack([scaled, regularizer])
    b = np.concatenate([np.ones(len(measured)), np.sqrt(prior_weight) * np.ones(len(prior))])
    factors, *_ = np.linalg.lstsq(a, b, rcond=None)
    values = prior * np.clip(factors, 0.02, None)
    per_unit = dict(base.cycles_per_unit)
    overhead = dict(base.overhead_per_op)
    for (kind, cls), value in zip(columns, values[:-1], strict=True):
        (per_unit if kind == "work" else overhead)[cls] = float(value)
    return CoreProfile(core, per_unit, overhead, float(values[-1]),
                       source=f"least-squares fit to {len(observations)} measured models",
                       observations=len(observations))
