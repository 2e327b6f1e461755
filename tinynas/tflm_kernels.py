"""What each TFLite Micro reference kernel allocates in the tensor arena.

Per operator: the parsed builtin options (``TfLiteConvParams``...), the kernel's own data
allocated in ``Init`` (``OpDataConv``...), per-channel arrays allocated in ``Prepare``
(requantization multipliers and shifts), and scratch buffers requested in ``Prepare``.

Host (64-bit) sizes were measured with TFLite Micro's recording allocator
(``tflite-micro==0.dev20261023182759``) on one-operator models at two channel counts, which
separates fixed from per-channel allocations. 32-bit sizes are derived, not measured (no 32-bit
TFLite Micro build is available to measure): every pointer of the kernel's struct shrinks from 8
to 4 bytes and 8-byte alignment padding disappears, while structs of ``int32`` fields only
(host sizes not a multiple of 8) are the same on both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tinynas.graph import Graph, Operator


def _no_scratch(_op: Operator, _graph: Graph) -> tuple[int, ...]:
    return ()


def _mean_scratch(op: Operator, graph: Graph) -> tuple[int, ...]:
    # reduce_common.cc: an int32 accumulator per output element, plus the resolved axes
    # (kMaxNumberOfReducedAxis = 5 ints).
    return (4 * graph.tensor(op.outputs[0]).elements, 20)


def _reduce_max_scratch(op: Operator, graph: Graph) -> tuple[int, ...]:
    # reduce_common.cc, PrepareMaxHelper: one int per input dimension and one per axis.
    axis = graph.tensor(op.inputs[1]).elements if len(op.inputs) > 1 else 1
    return (4 * len(graph.tensor(op.inputs[0]).shape), 4 * axis)


@dataclass(frozen=True)
class KernelSpec:
    """Arena allocations of one reference kernel.

    Attributes:
        params: Bytes of the parsed builtin options (the same on every target: no pointers).
        params_align: Their alignment.
        opdata: Bytes allocated in ``Init`` as ``(host, mcu)`` pairs, one per allocation.
        per_channel_arrays: Arrays of one ``int32`` per output channel allocated in
            ``Prepare`` (multiplier and shift for per-channel requantization).
        per_channel_only: Allocate those arrays only when the weights (input 1) are quantized
            per channel.
        temps: Tensors ``Prepare`` copies into temporary structs, as ``"i<n>"``/``"o<n>"``
            references in the order the kernel asks for them (a tensor asked for twice counts
            twice: temporaries are released only after the operator); None for every input and
            output once.
        planning_extra: Bytes ``(host, mcu)`` still held in the head while the memory plan is
            computed. Measured for MEAN: 96 bytes per operator on the host, the size of one
            temporary ``TfLiteTensor`` with its quantization, so taken as 60 on 32-bit builds.
        scratch: Scratch buffer sizes requested in ``Prepare``, from the operator and graph.
    """

    params: int = 0
    params_align: int = 4
    opdata: tuple[tuple[int, int], ...] = ()
    per_channel_arrays: int = 0
    per_channel_only: bool = False
    temps: tuple[str, ...] | None = None
    planning_extra: tuple[int, int] = (0, 0)
    scratch: Callable[[Operator, Graph], tuple[int, ...]] = field(default=_no_scratch)

    def temp_tensors(self, op: Operator) -> list[int]:
        """Tensors the kernel's ``Prepare`` copies into temporary ``TfLiteTensor`` structs."""
        if self.temps is None:
            return [t for t in op.inputs + op.outputs if t >= 0]
        result = []
        for ref in self.temps:
            group = op.inputs if ref[0] == "i" else op.outputs
            position = int(ref[1:])
            if position < len(group) and group[position] >= 0:
                result.append(group[position])
        return result


# conv_common.cc: ConvPrepare asks for output, input and filter, then CalculateOpDataConv asks
# again for input, filter, bias and output.
_CONV_TEMPS = ("o0", "i0", "i1", "i0", "i1", "i2", "o0")
# reduce_common.cc: PrepareMeanOrSumHelper and PrepareSimple each ask for input, axis, output.
_REDUCE_TEMPS = ("i0", "i1", "o0", "i0", "i1", "o0")

#: Reference kernels by builtin operator name.
KERNELS: dict[str, KernelSpec] = {
    # OpDataConv: padding, zero points, multipliers, 2 pointers, activation range, buffer ids.
    "CONV_2D": KernelSpec(params=28, opdata=((80, 68),), per_channel_arrays=2, temps=_CONV_TEMPS),
    "DEPTHWISE_CONV_2D": KernelSpec(params=28, opdata=((80, 68),), per_channel_arrays=2,
                                    temps=_CONV_TEMPS),
    # OpDataFullyConnected: per-tensor requantization plus 2 per-channel pointers.
    "FULLY_CONNECTED": KernelSpec(params=32, opdata=((72, 60),), per_channel_arrays=2,
                                  per_channel_only=True),
    "AVERAGE_POOL_2D": KernelSpec(params=40, opdata=((32, 32),)),
    "MAX_POOL_2D": KernelSpec(params=40, opdata=((32, 32),)),
    "MEAN": KernelSpec(params=1, params_align=1, opdata=((44, 44),), scratch=_mean_scratch,
                       temps=_REDUCE_TEMPS, planning_extra=(96, 60)),
    "REDUCE_MAX": KernelSpec(params=1, params_align=1, opdata=((44, 44),),
                             scratch=_reduce_max_scratch, temps=_REDUCE_TEMPS),
    "REDUCE_MIN": KernelSpec(params=1, params_align=1, opdata=((44, 44),),
                             scratch=_reduce_max_scratch, temps=_REDUCE_TEMPS),
    "SUM": KernelSpec(params=1, params_align=1, opdata=((44, 44),), scratch=_mean_scratch,
                      temps=_REDUCE_TEMPS, planning_extra=(96, 60)),
    # SoftmaxParams carries 4 lookup-table pointers.
    "SOFTMAX": KernelSpec(params=8, opdata=((80, 64),)),
    "ADD": KernelSpec(params=8, opdata=((60, 60),)),
    "SUB": KernelSpec(params=8, opdata=((52, 52),)),
    "MUL": KernelSpec(params=4, opdata=((36, 36),)),
    "LOGISTIC": KernelSpec(opdata=((16, 16),)),
    "TANH": KernelSpec(opdata=((16, 16),), temps=("i0", "i0", "o0")),
    "RESHAPE": KernelSpec(params=36),
    "SQUEEZE": KernelSpec(params=36),
    "EXPAND_DIMS": KernelSpec(),
    "QUANTIZE": KernelSpec(opdata=((32, 28),)),
    "DEQUANTIZE": KernelSpec(opdata=((32, 28),)),
    "RELU": KernelSpec(opdata=((28, 28),)),
    "RELU6": KernelSpec(opdata=((8, 8),)),
    "HARD_SWISH": KernelSpec(opdata=((20, 20),)),
    "LEAKY_RELU": KernelSpec(params=4, opdata=((24, 24),)),
    # ConcatenationParams points at per-input zero points and scales.
    "CONCATENATION": KernelSpec(params=8, opdata=((80, 60),)),
    "SPLIT": KernelSpec(params=4, temps=("i0",)),
    "SPLIT_V": KernelSpec(params=4, temps=("i0", "i1", "i2", "o0")),
    "UNPACK": KernelSpec(params=8, temps=()),
    "PACK": KernelSpec(params=8, temps=()),
    "STRIDED_SLICE": KernelSpec(params=24, opdata=((84, 84),)),
    "PAD": KernelSpec(opdata=((56, 56),)),
    "TRANSPOSE": KernelSpec(),
    "MAXIMUM": KernelSpec(temps=()),
    "MINIMUM": KernelSpec(temps=()),
}
