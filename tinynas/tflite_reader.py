"""Read a ``.tflite`` flatbuffer into a :class:`tinynas.graph.Graph`, without TensorFlow.

Any full-int8 model is accepted, not only ours: one subgraph, int8 activations, int8/int32/int16
constants. Everything else is refused with one line naming the file and what is wrong.
"""

from __future__ import annotations

import struct
from math import prod
from pathlib import Path
from typing import Any

from tinynas.errors import ModelFileError
from tinynas.graph import DTYPE_BYTES, Graph, Operator, Tensor
from tinynas.tflite_schema import enum_names, options_fields, schema
from tinynas.userfiles import read_user_file

#: Tensor types that make a model a float (or hybrid) model rather than a full-int8 one.
_FLOAT_TYPES = ("FLOAT32", "FLOAT16", "FLOAT64", "BFLOAT16")


def model_file_bytes(path: str | Path) -> bytes:
    """The bytes of a model file named on the command line.

    Raises:
        ModelFileError: The file is missing, a directory, or unreadable (one line, with the
            path).
    """
    return read_user_file(path, ModelFileError, "a .tflite file")


def read_tflite(data: bytes, path: str = "<bytes>") -> Graph:
    """Parse and validate a full-int8, single-subgraph TFLite model.

    Args:
        data: The flatbuffer bytes.
        path: Name used in error messages.

    Returns:
        The graph; constant tensors carry their ``data``, quantized tensors their scales and zero
        points, operators their builtin options by schema name (enums as strings).

    Raises:
        ModelFileError: Not a TFLite flatbuffer, truncated, not single-subgraph, or not full int8.
    """
    data = bytes(data)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelFileError(f"{path}: not a TFLite flatbuffer (no 'TFL3' file identifier)")
    try:
        return _read(data, path)
    except ModelFileError:
        raise
    except (struct.error, IndexError, ValueError, TypeError, UnicodeDecodeError,
            OverflowError):
        raise ModelFileError(f"{path}: truncated or corrupt TFLite flatbuffer (the "
                             f"{len(data)}-byte file refers to data past its end or is "
                             "malformed)") from None


def _check_offset(data: bytes, pos: int, path: str) -> None:
    if not 0 <= pos <= len(data) - 4:
        raise ModelFileError(f"{path}: truncated or corrupt TFLite flatbuffer "
                             f"(offset {pos} outside the {len(data)}-byte file)")


def _read(data: bytes, path: str) -> Graph:
    fb = schema()
    _check_offset(data, struct.unpack_from("<I", data, 0)[0], path)
    model = fb.Model.GetRootAs(data, 0)
    if model.SubgraphsLength() != 1:
        raise ModelFileError(f"{path}: has {model.SubgraphsLength()} subgraphs; only "
                             "single-subgraph models are supported")
    subgraph = model.Subgraphs(0)
    type_names = enum_names("TensorType")
    tensors = [_tensor(model, subgraph.Tensors(i), i, type_names, data, path)
               for i in range(subgraph.TensorsLength())]
    opcodes = [_opcode_name(model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())]
    operators = []
    for i in range(subgraph.OperatorsLength()):
        op = subgraph.Operators(i)
        index = op.OpcodeIndex()
        if index >= len(opcodes):
            raise ModelFileError(f"{path}: operator {i} refers to operator code {index}, but the "
                                 f"model has {len(opcodes)}")
        operators.append(Operator(
            opcode=opcodes[index],
            inputs=tuple(int(x) for x in op.InputsAsNumpy()) if op.InputsLength() else (),
            outputs=tuple(int(x) for x in op.OutputsAsNumpy()) if op.OutputsLength() else (),
            options=_options(op)))
    for number, op in enumerate(operators):
        if not op.outputs:
            raise ModelFileError(f"{path}: operator {number} ({op.opcode}) has no outputs")
        for t in op.inputs + op.outputs:
            if t >= len(tensors) or t < -1 or (t == -1 and t in op.outputs):
                raise ModelFileError(f"{path}: operator {number} ({op.opcode}) refers to tensor "
                                     f"{t}, but the model has {len(tensors)}")
    inputs = tuple(int(x) for x in subgraph.InputsAsNumpy()) if subgraph.InputsLength() else ()
    outputs = tuple(int(x) for x in subgraph.OutputsAsNumpy()) if subgraph.OutputsLength() else ()
    for kind, group in (("input", inputs), ("output", outputs)):
        for t in group:
            if not 0 <= t < len(tensors):
                raise ModelFileError(f"{path}: graph {kind} refers to tensor {t}, but the model "
                                     f"has {len(tensors)}")
    description = model.Description()
    return Graph(
        tensors=tuple(tensors),
        operators=tuple(operators),
        inputs=inputs,
        outputs=outputs,
        description=description.decode("utf-8", "replace") if description else "",
    )


def _opcode_name(code: Any) -> str:
    value = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    names = enum_names("BuiltinOperator")
    if value == schema().BuiltinOperator.CUSTOM:
        custom = code.CustomCode()
        return custom.decode("utf-8", "replace") if custom else "CUSTOM"
    return names.get(value, f"BUILTIN_{value}")


def _tensor(model: Any, t: Any, index: int, type_names: dict[int, str], data: bytes,
            path: str) -> Tensor:
    raw_name = t.Name()
    name = raw_name.decode("utf-8", "replace") if raw_name else ""
    label = f"tensor {index}" + (f" ({name!r})" if name else "")
    type_name = type_names.get(t.Type(), str(t.Type()))
    if type_name in _FLOAT_TYPES:
        raise ModelFileError(f"{path}: {label} is {type_name.lower()}: a float or hybrid model; "
                             "only full-int8 models are supported (convert with int8 inputs, "
                             "outputs and weights)")
    dtype = type_name.lower()
    if dtype not in DTYPE_BYTES:
        raise ModelFileError(f"{path}: {label} has type {type_name}; supported: "
                             f"{', '.join(sorted(DTYPE_BYTES))}")
    shape = tuple(int(x) for x in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    if any(d < 0 for d in shape):
        raise ModelFileError(f"{path}: {label} has a dynamic shape {list(shape)}; convert with a "
                             "fixed batch of 1")
    buffer_index = t.Buffer()
    if buffer_index >= model.BuffersLength():
        raise ModelFileError(f"{path}: {label} refers to buffer {buffer_index}, but the model has "
                             f"{model.BuffersLength()}")
    buffer = model.Buffers(buffer_index)
    content: bytes | None = None
    if buffer.DataLength():
        start = buffer._tab.Vector(buffer._tab.Offset(4))
        content = data[start:start + buffer.DataLength()]
    elif buffer.Offset() > 1 and buffer.Size():
        content = data[buffer.Offset():buffer.Offset() + buffer.Size()]
    if content is not None:
        expected = prod(shape) * DTYPE_BYTES[dtype]
        if len(content) != expected:
            raise ModelFileError(f"{path}: truncated or corrupt TFLite flatbuffer ({label} holds "
                                 f"{len(content)} bytes, its shape needs {expected})")
    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()
    axis = 0
    q = t.Quantization()
    if q is not None:
        if q.ScaleLength():
            scale = tuple(float(x) for x in q.ScaleAsNumpy())
        if q.ZeroPointLength():
            zero_point = tuple(int(x) for x in q.ZeroPointAsNumpy())
        axis = q.QuantizedDimension()
    return Tensor(index=index, name=name, shape=shape, dtype=dtype, constant=content is not None,
                  variable=bool(t.IsVariable()), quant_channels=len(scale), quant_axis=axis,
                  scale=scale, zero_point=zero_point, data=content)


def _options(op: Any) -> dict[str, Any]:
    type_value = op.BuiltinOptionsType()
    table = op.BuiltinOptions()
    if not type_value or table is None:
        return {}
    type_name = enum_names("BuiltinOptions").get(type_value)
    if type_name is None:
        raise ValueError(f"unknown builtin options type {type_value}")
    obj = getattr(schema(), f"{type_name}T").InitFromBuf(table.Bytes, table.Pos)
    options: dict[str, Any] = {}
    for field in options_fields(type_name):
        value = getattr(obj, field.camel)
        if value is None:
            continue
        if field.kind == "String":
            value = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        elif field.kind.startswith("vector:"):
            value = tuple(v.item() if hasattr(v, "item") else v for v in value)
        elif field.kind == "Bool":
            value = bool(value)
        elif field.enum:
            value = enum_names(field.enum).get(value, value)
        options[field.name] = value
    return options
