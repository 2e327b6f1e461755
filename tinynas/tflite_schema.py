"""The TFLite flatbuffer schema, loaded without importing TensorFlow or tflite_micro.

The flatc-generated Python schema ships inside the tflite_micro wheel (and inside TensorFlow).
Loading that single file by path under a private module name keeps both packages' ``__init__``
(5 s for TensorFlow) out of the commands that only read models.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from tinynas.errors import MissingDependencyError

_PRIVATE_NAME = "_tinynas_tflite_schema"

#: Where the generated schema lives inside each package that ships it.
_CANDIDATES = (
    ("tflite_micro", "tensorflow/lite/micro/python/schema_py_generated.py"),
    ("tensorflow", "lite/python/schema_py_generated.py"),
)

#: Option fields whose integer values are schema enums, and the enum that names them.
ENUM_FIELDS = {
    "padding": "Padding",
    "fusedActivationFunction": "ActivationFunctionType",
    "weightsFormat": "FullyConnectedOptionsWeightsFormat",
    "quantizedBiasType": "TensorType",
    "kernelType": "LSTMKernelType",
    "outType": "TensorType",
    "outputType": "TensorType",
    "idxOutType": "TensorType",
    "inDataType": "TensorType",
    "outDataType": "TensorType",
}

#: Operators whose options table is not named after the operator.
_OPTIONS_EXCEPTIONS = {
    "AVERAGE_POOL_2D": "Pool2DOptions",
    "MAX_POOL_2D": "Pool2DOptions",
    "L2_POOL_2D": "Pool2DOptions",
    "MEAN": "ReducerOptions",
    "SUM": "ReducerOptions",
    "REDUCE_MAX": "ReducerOptions",
    "REDUCE_MIN": "ReducerOptions",
    "REDUCE_PROD": "ReducerOptions",
    "REDUCE_ANY": "ReducerOptions",
    "REDUCE_ALL": "ReducerOptions",
    "MAXIMUM": "MaximumMinimumOptions",
    "MINIMUM": "MaximumMinimumOptions",
    "LSTM": "LSTMOptions",
    "RNN": "RNNOptions",
    "SVDF": "SVDFOptions",
    "L2_NORMALIZATION": "L2NormOptions",
    "LOCAL_RESPONSE_NORMALIZATION": "LocalResponseNormalizationOptions",
    "UNIDIRECTIONAL_SEQUENCE_RNN": "SequenceRNNOptions",
    "BATCH_MATMUL": "BatchMatMulOptions",
}


@cache
def schema() -> ModuleType:
    """The generated schema module (``Model``, ``Tensor``, ``BuiltinOperator``, ...).

    Raises:
        MissingDependencyError: Neither tflite_micro nor tensorflow is installed.
    """
    if _PRIVATE_NAME in sys.modules:
        return sys.modules[_PRIVATE_NAME]
    for package, relative in _CANDIDATES:
        # find_spec on a top-level name locates the package without running its __init__.
        spec = importlib.util.find_spec(package)
        for location in (spec.submodule_search_locations or []) if spec else []:
            path = Path(location) / relative
            if path.is_file():
                file_spec = importlib.util.spec_from_file_location(_PRIVATE_NAME, path)
                assert file_spec is not None and file_spec.loader is not None
                module = importlib.util.module_from_spec(file_spec)
                sys.modules[_PRIVATE_NAME] = module
                file_spec.loader.exec_module(module)
                return module
    raise MissingDependencyError(
        "the TFLite flatbuffer schema was not found: install tflite-micro (pip install "
        "tflite-micro) or tensorflow")


def _constants(cls: type) -> dict[str, int]:
    return {k: v for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


@cache
def enum_names(enum: str) -> dict[int, str]:
    """Value -> name of a schema enum, e.g. ``enum_names("Padding")[0] == "SAME"``."""
    return {v: k for k, v in _constants(getattr(schema(), enum)).items()}


@cache
def enum_values(enum: str) -> dict[str, int]:
    """Name -> value of a schema enum."""
    return _constants(getattr(schema(), enum))


def builtin_code(opcode: str) -> int:
    """The ``BuiltinOperator`` value of an operator name.

    Raises:
        KeyError: Not a builtin operator.
    """
    return enum_values("BuiltinOperator")[opcode]


@cache
def options_type(opcode: str) -> str | None:
    """The ``BuiltinOptions`` union member the converter uses for ``opcode``, if any."""
    if opcode in _OPTIONS_EXCEPTIONS:
        return _OPTIONS_EXCEPTIONS[opcode]
    wanted = opcode.replace("_", "").lower() + "options"
    for name in enum_values("BuiltinOptions"):
        if name.lower() == wanted:
            return name
    return None


def snake_case(camel: str) -> str:
    """``fusedActivationFunction`` -> ``fused_activation_function`` (the schema's own names)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


class _Recorder:
    """Stands in for a flatbuffers Builder to learn an options table's fields from its ``Pack``.

    The generated ``Pack`` adds fields in declaration order, so recording the calls gives each
    field's slot, scalar kind and default without parsing the schema source.
    """

    _KINDS = ("Bool", "Int8", "Uint8", "Int16", "Uint16", "Int32", "Uint32", "Int64", "Uint64",
              "Float32", "Float64")

    def __init__(self) -> None:
        self.slots: list[tuple[int, str, Any]] = []
        # Offsets handed back to Pack must be ints (it wraps them in int()): token -> kind.
        self._tokens: dict[int, str] = {}
        self._element = ""

    def __getattr__(self, name: str) -> Any:
        for kind in self._KINDS:
            if name == f"Prepend{kind}Slot":
                return lambda slot, _x, default, k=kind: self.slots.append((slot, k, default))
            if name == f"Prepend{kind}":
                return lambda _x, k=kind: setattr(self, "_element", k)
        raise AttributeError(name)

    def _token(self, kind: str) -> int:
        token = len(self._tokens) + 1
        self._tokens[token] = kind
        return token

    def StartObject(self, _n: int) -> None:  # noqa: N802  (flatbuffers Builder API)
        pass

    def EndObject(self) -> int:  # noqa: N802
        return 0

    def StartVector(self, *_args: int) -> None:  # noqa: N802
        self._element = ""

    def EndVector(self, *_args: int) -> int:  # noqa: N802
        return self._token(f"vector:{self._element}")

    def CreateString(self, _s: Any) -> int:  # noqa: N802
        return self._token("String")

    def PrependUOffsetTRelativeSlot(self, slot: int, token: int, _d: int) -> None:  # noqa: N802
        self.slots.append((slot, self._tokens[token], None))


@dataclass(frozen=True)
class OptionField:
    """One field of a builtin-options table.

    Attributes:
        slot: Field id in the table.
        camel: Attribute name in the generated object API (``strideW``).
        name: Schema name in snake case (``stride_w``), the key in ``Operator.options``.
        kind: Scalar kind (``"Int32"``, ``"Float32"``, ``"Bool"``...), ``"String"``, or
            ``"vector:<Kind>"``.
        default: The schema default (omitted from the file when equal); None for vectors.
        enum: The schema enum naming the values, if any.
    """

    slot: int
    camel: str
    name: str
    kind: str
    default: Any
    enum: str | None


@cache
def options_fields(type_name: str) -> tuple[OptionField, ...]:
    """The fields of a ``BuiltinOptions`` table, learnt from the generated object API.

    Raises:
        ValueError: The table nests other tables (no operator we meet uses one).
    """
    obj = getattr(schema(), f"{type_name}T")()
    attrs = list(vars(obj))
    for attr in attrs:
        if getattr(obj, attr) is None:
            setattr(obj, attr, [1])
    recorder = _Recorder()
    try:
        obj.Pack(recorder)
    except (AttributeError, TypeError, KeyError) as exc:
        raise ValueError(f"options table {type_name} nests tables: {exc}") from None
    if len(recorder.slots) != len(attrs):
        raise ValueError(f"options table {type_name} has fields this writer cannot map")
    fields = []
    for attr, (slot, kind, default) in zip(attrs, recorder.slots, strict=True):
        fields.append(OptionField(slot, attr, snake_case(attr), kind, default,
                                  ENUM_FIELDS.get(attr)))
    return tuple(fields)
