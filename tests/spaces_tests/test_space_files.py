"""Malformed or contradictory space files fail at load, naming the file, the key and the rule."""

from __future__ import annotations

import pytest

from tinynas.cli import main
from tinynas.errors import SearchSpaceError
from tinynas.spaces import load_space, space_names

DS_CNN = """\
[space]
family = "ds_cnn"
input_ranks = [3]

[architecture]
min_input = [8, 8]
first_filters = [8, 16]
first_filters_step = 8
first_stride = [1, 2]
blocks = [1, 2]
filters = [8, 16]
filters_step = 8
stride = [1, 2]

[compression]
quantization = ["ptq", "qat"]
pruning = ["none", "unstructured"]
sparsity = [0.25, 0.75]
clusters = [0, 16]
"""

GRU = """\
[space]
family = "gru"
input_ranks = [2]

[architecture]
min_input = [8]
conv_filters = [0, 8]
conv_stride = [1, 2]
layers = [1, 2]
units = [8, 16]
units_step = 8
"""


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


BAD = {
    "stride larger than the input": (DS_CNN, "\nstride = [1, 2]", "\nstride = [1, 12]",
                                     "[architecture] stride: a stride may not exceed the smallest "
                                     "accepted input side (8, from min_input) (got 12)"),
    "first stride larger than the input": (
        DS_CNN, "first_stride = [1, 2]", "first_stride = [9]",
        "[architecture] first_stride: a stride may not exceed"),
    "GRU stride larger than the input": (GRU, "conv_stride = [1, 2]", "conv_stride = [1, 12]",
                                         "[architecture] conv_stride: a stride may not exceed"),
    "sparsity 1.0": (DS_CNN, "sparsity = [0.25, 0.75]", "sparsity = [0.5, 1.0]",
                     "[compression] sparsity: must be < 1.0 (got 1.0)"),
    "zero clusters (no choice at all)": (DS_CNN, "clusters = [0, 16]", "clusters = []",
                                         "[compression] clusters: must be a non-empty list"),
    "one cluster": (DS_CNN, "clusters = [0, 16]", "clusters = [1, 16]",
                    "[compression] clusters: a cluster count must be 0 (off) or at least 2"),
    "negative clusters": (DS_CNN, "clusters = [0, 16]", "clusters = [-8]",
                          "[compression] clusters: must be >= 0 (got -8)"),
    "unknown key": (DS_CNN, "blocks = [1, 2]", "blocks = [1, 2]\nfilterz = [8, 16]",
                    "[architecture]: unknown key 'filterz'; allowed keys:"),
    "wrong type": (DS_CNN, "blocks = [1, 2]", 'blocks = "three"',
                   "[architecture] blocks: must be a non-empty list of integers (got 'three')"),
    "min above max": (DS_CNN, "\nfilters = [8, 16]", "\nfilters = [64, 8]",
                      "[architecture] filters: min must not exceed max (got [64, 8])"),
    "step that does not divide the range": (
        DS_CNN, "\nfilters_step = 8", "\nfilters_step = 5",
        "[architecture] filters_step: must divide max - min of filters (16 - 8) (got 5)"),
    "too many blocks": (DS_CNN, "blocks = [1, 2]", "blocks = [1, 7]",
                        "[architecture] blocks: must be <= 6 (got 7)"),
    "unknown pooling": (DS_CNN, "blocks = [1, 2]", 'blocks = [1, 2]\npooling = ["mean"]',
                        "[architecture] pooling: each entry must be one of avg, max, flatten"),
    "min_input of the wrong length": (GRU, "min_input = [8]", "min_input = [8, 8]",
                                      "[architecture] min_input: must be [length] (got [8, 8])"),
    "three GRU layers": (GRU, "layers = [1, 2]", "layers = [1, 3]",
                         "[architecture] layers: must be <= 2 (got 3)"),
    "unknown learning-rate schedule": (
        GRU, "units_step = 8", 'units_step = 8\n\n[training]\nlr_schedule = "step"',
        "[training] lr_schedule: must be one of constant, cosine (got 'step')"),
    "units step that does not divide the range": (
        GRU, "units = [8, 16]", "units = [8, 20]",
        "[architecture] units_step: must divide max - min of units (20 - 8) (got 8)"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_space_file_fails_at_load_with_file_key_and_rule(write_file, case: str) -> None:
    base, old, new, message = BAD[case]
    path = write_file("space.toml", edit(base, old, new))
    with pytest.raises(SearchSpaceError) as info:
        load_space(str(path))
    text = str(info.value)
    assert text.startswith(f"{path}: ")
    assert message in text
    assert "\n" not in text


def test_valid_files_load(write_file) -> None:
    assert load_space(str(write_file("a.toml", DS_CNN))).config.family == "ds_cnn"
    assert load_space(str(write_file("b.toml", GRU))).config.family == "gru"
    assert load_space(str(write_file("c.toml", GRU))).config.training.lr_schedule == "constant"
    cosine = GRU + '\n[training]\nlr_schedule = "cosine"\n'
    assert load_space(str(write_file("d.toml", cosine))).config.training.lr_schedule == "cosine"


def test_required_key_is_named(write_file) -> None:
    path = write_file("space.toml", edit(DS_CNN, "min_input = [8, 8]\n", ""))
    with pytest.raises(SearchSpaceError, match=r"\[architecture\] min_input: is required"):
        load_space(str(path))


def test_every_shipped_space_loads_and_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert space_names() == ["cnn", "cnn1d", "ds_cnn", "gru", "mixed_cnn"]
    assert main(["spaces"]) == 0
    out = capsys.readouterr().out
    for name in space_names():
        assert name in out


def test_cli_reports_a_bad_space_file_in_one_line(write_file, capsys) -> None:
    path = write_file("space.toml", edit(DS_CNN, "sparsity = [0.25, 0.75]", "sparsity = [0, 1.0]"))
    code = main(["estimate", "--space", str(path), "--board", "nucleo_l432kc", "--params", "{}"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "sparsity: must be < 1.0" in err and str(path) in err
