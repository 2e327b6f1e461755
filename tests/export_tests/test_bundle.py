"""``export_bundle``: the TFLite Micro half, the manifest, and all-or-nothing writing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tinynas.errors import ExportError, ModelFileError, UnsupportedOperatorError
from tinynas.estimator import estimate_graph
from tinynas.export import MANIFEST, ExportInfo, export_bundle
from tinynas.export._bundle import _inside
from tinynas.tflite_reader import read_tflite
from tinynas.tflite_writer import serialize

from ._graphs import digits_classifier, image_chain, with_operator

INFO = ExportInfo(study_name="s", trial=3, board={"name": "nucleo_l432kc", "description": "L4"},
                  arch={"space": "ds_cnn", "blocks": 1}, compression={"quantization": "ptq"},
                  figures={"accuracy_int8": 0.91, "estimated_ram_bytes": 4096,
                           "stages": [{"name": "ptq", "accuracy": 0.91, "tflite_bytes": 1000}]},
                  class_names=[str(i) for i in range(10)],
                  preprocessing={"normalization": {"axis": 2, "mean": [4.5], "std": [6.0]},
                                 "features": {"kind": "mfcc", "frames": 49}},
                  dataset="digits", seed=0)


@pytest.fixture(scope="module")
def tflite() -> bytes:
    return serialize(digits_classifier(5))


def test_bundle_holds_both_halves(tflite: bytes, tmp_path: Path) -> None:
    out = tmp_path / "fw"
    files = export_bundle(tflite, out, INFO)
    assert sorted(p.name for p in files) == sorted(p.name for p in out.iterdir())
    assert (out / "model.tflite").read_bytes() == tflite

    array = (out / "model_data.cc").read_text()
    assert f"alignas(16) const unsigned char g_model_data[{len(tflite)}]" in array
    values = bytes(int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", array))
    assert values == tflite

    graph = read_tflite(tflite)
    resolver = (out / "model_op_resolver.h").read_text()
    assert f"MicroMutableOpResolver<{len(graph.opcodes)}>" in resolver
    assert resolver.count("resolver.Add") == len(graph.opcodes) == 4
    assert "AddConv2D()" in resolver and "AddSoftmax()" in resolver

    config = (out / "model_config.h").read_text()
    arena = estimate_graph(graph, target="mcu").arena_bytes
    assert f"#define MODEL_TENSOR_ARENA_SIZE {arena}\n" in config
    assert "#define MODEL_INPUT_DIMS {1, 8, 8, 1}" in config
    assert "#define MODEL_INPUT_ZERO_POINT -5" in config
    assert "#define MODEL_OUTPUT_ZERO_POINT -128" in config
    assert '#define MODEL_CLASS_LABELS {"0", "1", "2"' in config
    assert "#define MODEL_PREPROCESSING_NORMALIZATION_MEAN {4.5f}" in config
    assert '#define MODEL_PREPROCESSING_FEATURES_KIND "mfcc"' in config

    report = (out / "report.md").read_text()
    assert "study `s`, trial 3" in report and "| int8 accuracy | 0.91 |" in report
    assert "nucleo_l432kc" in report and "| ptq | 0.91 | 1000 |" in report

    main_cc = (out / "main.cc").read_text()
    assert "MicroInterpreter" in main_cc and "RegisterModelOps(resolver)" in main_cc

    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["info"]["dataset"] == "digits" and manifest["tflm"]["arena_bytes"] == arena
    assert manifest["runtime"]["arena_bytes"] < arena


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_unsupported_operator_leaves_nothing(tflite: bytes, tmp_path: Path) -> None:
    bad = serialize(with_operator(digits_classifier(5), "HARD_SWISH"))
    with pytest.raises(UnsupportedOperatorError, match="HARD_SWISH"):
        export_bundle(bad, tmp_path / "fw", ExportInfo())
    assert _leftovers(tmp_path) == []


def test_not_a_model_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="my.tflite"):
        export_bundle(b"not a model", tmp_path / "fw", ExportInfo(), source="my.tflite")
    assert _leftovers(tmp_path) == []


def test_failure_while_writing_keeps_the_previous_export(tflite: bytes, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "fw"
    export_bundle(tflite, out, INFO)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*args: object, **kwargs: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr("tinynas.export._tflm.model_data_cc", broken)
    with pytest.raises(ExportError, match="cannot write the export: disk full"):
        export_bundle(serialize(image_chain(1)), out, ExportInfo())
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _leftovers(tmp_path) == ["fw"]


def test_reexport_replaces_an_earlier_export(tflite: bytes, tmp_path: Path) -> None:
    out = tmp_path / "fw"
    export_bundle(tflite, out, INFO)
    other = serialize(image_chain(1))
    export_bundle(other, out, ExportInfo())
    assert (out / "model.tflite").read_bytes() == other
    assert _leftovers(tmp_path) == ["fw"]


def test_refuses_a_folder_that_is_not_an_export(tflite: bytes, tmp_path: Path) -> None:
    out = tmp_path / "src"
    out.mkdir()
    (out / "main.c").write_text("int main(void) { return 0; }\n")
    with pytest.raises(ExportError, match="not empty"):
        export_bundle(tflite, out, INFO)
    assert _leftovers(out) == ["main.c"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="not a folder"):
        export_bundle(tflite, tmp_path / "file", INFO)
    with pytest.raises(ExportError, match="cannot create"):
        export_bundle(tflite, tmp_path / "file" / "fw", INFO)


@pytest.mark.parametrize("name", ["../x", "a/b", "/etc/passwd", ".."])
def test_names_cannot_escape_the_folder(name: str, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="outside"):
        _inside(tmp_path, name)
    assert _inside(tmp_path, "model.tflite") == tmp_path.resolve() / "model.tflite"
