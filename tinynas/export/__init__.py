"""Firmware export: a TensorFlow Lite Micro bundle and a generated dependency-free C99 runtime for
one full-int8 model, and the byte-for-byte check of that runtime against TensorFlow Lite."""

from __future__ import annotations

from tinynas.export._bundle import MANIFEST, export_bundle, read_manifest
from tinynas.export._info import ExportInfo
from tinynas.export._verify import (
    Mismatch,
    TensorCheck,
    VerifyResult,
    build_host,
    run_host,
    trace_tensors,
    verify_bundle,
)

__all__ = ["MANIFEST", "ExportInfo", "Mismatch", "TensorCheck", "VerifyResult", "build_host",
           "export_bundle", "read_manifest", "run_host", "trace_tensors", "verify_bundle"]
