"""The dashboard reads artifacts from every study's folder of a storage."""

from __future__ import annotations

import io
from pathlib import Path

import optuna
import pytest
from optuna.artifacts.exceptions import ArtifactNotFound

from tinynas import study as studies
from tinynas.dashboard import StudyArtifactStore, artifact_folders


def test_studies_with_their_own_artifact_folders(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    storage = studies.make_storage(url, heartbeat=False)
    with studies._quiet_optuna():
        for name, folder in (("a", None), ("b", tmp_path / "elsewhere")):
            study = optuna.create_study(study_name=name, storage=storage)
            if folder is not None:
                study.set_user_attr("artifact_dir", str(folder))
    folders = artifact_folders(storage, url)
    assert folders == [studies.default_artifact_dir(url), (tmp_path / "elsewhere").resolve()]
    assert all(f.is_dir() for f in folders)


def test_reads_where_the_artifact_is_and_writes_to_the_first(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    (second / "abc").write_bytes(b"model")
    store = StudyArtifactStore([first, second])
    with store.open_reader("abc") as fh:
        assert fh.read() == b"model"
    store.write("new", io.BytesIO(b"uploaded"))
    assert (first / "new").read_bytes() == b"uploaded"
    store.remove("abc")
    assert not (second / "abc").exists()
    with pytest.raises(ArtifactNotFound):
        store.open_reader("abc")
