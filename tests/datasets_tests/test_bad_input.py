"""Bad data gives one line naming the file and the problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinynas.datasets import _idx, _kws_synth, load_dataset
from tinynas.errors import DatasetError, MissingDependencyError

from .writers import tone, write_csv, write_wav


def _npz(tmp_path: Path, **arrays: np.ndarray) -> str:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return str(path)


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("value, kind", [(np.nan, "NaN"), (np.inf, "infinite values")])
def test_non_finite_samples(tmp_path: Path, value: float, kind: str) -> None:
    x = np.zeros((30, 4))
    x[7, 2] = value
    with pytest.raises(DatasetError) as exc:
        load_dataset(_npz(tmp_path, x=x, y=np.arange(30) % 2))
    assert _one_line(exc).startswith(f"{tmp_path / 'bad.npz'}: sample 7 contains {kind}")


def test_single_class(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"only one class \('7'\); a classifier needs at "):
        load_dataset(_npz(tmp_path, x=np.zeros((10, 4)), y=np.full(10, 7)))


def test_class_without_samples(tmp_path: Path) -> None:
    path = _npz(tmp_path, x=np.zeros((12, 4)), y=np.arange(12) % 2,
                class_names=np.array(["a", "b", "c"]))
    with pytest.raises(DatasetError, match="bad.npz: class 'c' has no samples"):
        load_dataset(path)


def test_labels_that_do_not_match_the_samples(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="bad.npz: 12 samples in x but 11 labels in y"):
        load_dataset(_npz(tmp_path, x=np.zeros((12, 4)), y=np.arange(11) % 2))
    with pytest.raises(DatasetError, match=r"y must have shape \(samples,\)"):
        load_dataset(_npz(tmp_path, x=np.zeros((12, 4)), y=np.zeros((12, 2))))


def test_wrong_sample_shape(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"samples of shape \(2, 2, 2, 2\) are not supported"):
        load_dataset(_npz(tmp_path, x=np.zeros((12, 2, 2, 2, 2)), y=np.arange(12) % 2))


def test_npz_missing_array(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="missing array 'y'"):
        load_dataset(_npz(tmp_path, x=np.zeros((12, 4))))


def test_wav_of_the_wrong_rate(tmp_path: Path) -> None:
    for word in ("a", "b"):
        for k in range(3):
            write_wav(tmp_path / word / f"{k}.wav", tone(440.0))
    bad = tmp_path / "b" / "2.wav"
    write_wav(bad, tone(440.0, rate=8000), rate=8000)
    with pytest.raises(DatasetError) as exc:
        load_dataset(str(tmp_path))
    assert _one_line(exc) == (f"{bad}: sample rate 8000 Hz, expected 16000 Hz (resample with: "
                              "sox IN -r 16000 OUT)")


def test_stereo_wav(tmp_path: Path) -> None:
    for word in ("a", "b"):
        for k in range(3):
            write_wav(tmp_path / word / f"{k}.wav", tone(440.0), channels=2 if k == 1 else 1)
    with pytest.raises(DatasetError, match=r"1.wav: 2 channels, expected mono"):
        load_dataset(str(tmp_path))


def test_empty_and_single_class_wav_folders(tmp_path: Path) -> None:
    for k in range(3):
        write_wav(tmp_path / "yes" / f"{k}.wav", tone(440.0))
    with pytest.raises(DatasetError, match=r"only one class \('yes'\)"):
        load_dataset(str(tmp_path))
    (tmp_path / "no").mkdir()
    with pytest.raises(DatasetError, match="class 'no' has no samples"):
        load_dataset(str(tmp_path))


def test_ragged_and_non_numeric_csv(tmp_path: Path) -> None:
    write_csv(tmp_path / "a" / "a.csv", np.zeros((200, 3)))
    bad = tmp_path / "b" / "b.csv"
    write_csv(bad, np.ones((200, 3)))
    lines = bad.read_text().splitlines()
    lines[5] = "80.0,1,1"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"b.csv:6: expected 4 values, got 3"):
        load_dataset(str(tmp_path))
    lines[5] = "80.0,1,x,1"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"b.csv:6: 'x' is not a number"):
        load_dataset(str(tmp_path))


def test_csv_recording_too_short(tmp_path: Path) -> None:
    write_csv(tmp_path / "a" / "a.csv", np.zeros((200, 3)))
    write_csv(tmp_path / "b" / "b.csv", np.ones((60, 3)))
    with pytest.raises(DatasetError, match=r"b.csv: 60 samples cannot give train, validation "):
        load_dataset(str(tmp_path), window=20)


def test_missing_debian_package_names_the_install_command(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_idx, "FASHION_DIR", tmp_path / "absent")
    with pytest.raises(MissingDependencyError,
                       match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion_mnist")


def test_missing_speech_tools_name_the_install_command(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYNAS_DATA", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingDependencyError,
                       match="espeak-ng and sox not installed; install with 'sudo apt-get "
                             "install espeak-ng sox'"):
        load_dataset("kws_synth")
    with pytest.raises(MissingDependencyError, match="apt-get install espeak-ng sox"):
        _kws_synth.generate(tmp_path / "out", per_word=3)
