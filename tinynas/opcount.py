"""How much work each operator does: multiply-accumulates and elements touched.

Shared by the resource estimator (MACs, per-operator table) and the latency model (cycles are
work times a per-core, per-class constant), so both count the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinynas.graph import Graph, Operator

#: Operator -> latency class. Each class has its own cycles per unit of work in a core profile.
OP_CLASSES = {
    "CONV_2D": "conv",
    "TRANSPOSE_CONV": "conv",
    "DEPTHWISE_CONV_2D": "depthwise",
    "FULLY_CONNECTED": "fully_connected",
    "BATCH_MATMUL": "fully_connected",
    "AVERAGE_POOL_2D": "pool",
    "MAX_POOL_2D": "pool",
    "MEAN": "reduce",
    "SUM": "reduce",
    "REDUCE_MAX": "reduce",
    "REDUCE_MIN": "reduce",
    "ADD": "elementwise",
    "SUB": "elementwise",
    "MUL": "elementwise",
    "MAXIMUM": "elementwise",
    "MINIMUM": "elementwise",
    "SQUARED_DIFFERENCE": "elementwise",
    "LOGISTIC": "activation",
    "TANH": "activation",
    "RELU": "activation",
    "RELU6": "activation",
    "LEAKY_RELU": "activation",
    "HARD_SWISH": "activation",
    "QUANTIZE": "activation",
    "DEQUANTIZE": "activation",
    "SOFTMAX": "softmax",
    "RESHAPE": "data",
    "SQUEEZE": "data",
    "EXPAND_DIMS": "data",
    "CONCATENATION": "data",
    "SPLIT": "data",
    "SPLIT_V": "data",
    "PACK": "data",
    "UNPACK": "data",
    "STRIDED_SLICE": "data",
    "PAD": "data",
    "TRANSPOSE": "data",
}

#: Latency classes, in the order profiles list them.
CLASSES = ("conv", "depthwise", "fully_connected", "pool", "reduce", "elementwise", "activation",
           "softmax", "data", "other")


@dataclass(frozen=True)
class OpWork:
    """Work of one operator.

    Attributes:
        macs: Multiply-accumulates (convolutions and fully connected layers; 0 otherwise).
        work: Units the latency model charges: MACs for MAC operators, window elements for
            pooling, input elements for reductions, output elements for the rest.
        op_class: The latency class (a key of a profile's constants).
        outputs: Output elements of MAC operators, each requantized, clamped and stored once
            (0 for the rest).
        rows: Output elements times kernel height of convolutions: the kernel rows, each a
            clipped window row whose set-up a kernel pays beside the MACs (0 for the rest).
    """

    macs: int
    work: int
    op_class: str
    outputs: int = 0
    rows: int = 0


def op_class(opcode: str) -> str:
    """The latency class of an operator (``"other"`` when unknown)."""
    return OP_CLASSES.get(opcode, "other")


def op_work(graph: Graph, op: Operator) -> OpWork:
    """Count the work of ``op`` in ``graph``."""
    cls = op_class(op.opcode)
    out = graph.tensor(op.outputs[0]) if op.outputs else None
    out_elements = out.elements if out is not None else 0
    weights = (graph.tensor(op.inputs[1])
               if len(op.inputs) > 1 and op.inputs[1] >= 0 else None)
    macs = 0
    if op.opcode == "CONV_2D" and weights is not None and weights.shape:
        macs = out_elements * (weights.elements // max(weights.shape[0], 1))
    elif op.opcode == "DEPTHWISE_CONV_2D" and weights is not None and len(weights.shape) == 4:
        macs = out_elements * weights.shape[1] * weights.shape[2]
    elif op.opcode == "FULLY_CONNECTED" and weights is not None and len(weights.shape) == 2:
        macs = out_elements * weights.shape[1]
    elif op.opcode == "TRANSPOSE_CONV" and len(op.inputs) > 2 and op.inputs[1] >= 0:
        filt = graph.tensor(op.inputs[1])
        source = graph.tensor(op.inputs[2])
        macs = source.elements * filt.elements // max(source.shape[-1], 1)
    if macs:
        # OHWI and 1HWC weights alike: the kernel height is dimension 1.
        height = 0
        if (op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D") and weights is not None
                and len(weights.shape) == 4):
            height = weights.shape[1]
        return OpWork(macs, macs, cls, out_elements, out_elements * height)
    if cls == "pool":
        window = int(op.options.get("filter_height", 1)) * int(op.options.get("filter_width", 1))
        return OpWork(0, out_elements * window, cls)
    if cls == "reduce" and op.inputs:
        return OpWork(0, graph.tensor(op.inputs[0]).elements, cls)
    return OpWork(0, out_elements, cls)
