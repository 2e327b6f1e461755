"""A real SQLite study holding one trained-looking trial whose model is a small digits
classifier, stored the way the search driver stores trials (attributes, constraints, artifact)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._graphs import digits_classifier


@pytest.fixture(scope="session")
def digits_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, bytes]:
    import optuna

    from tinynas import study as studies
    from tinynas.boards import load_board
    from tinynas.tflite_writer import serialize

    folder: Path = tmp_path_factory.mktemp("study")
    storage = f"sqlite:///{folder}/s.db"
    tflite = serialize(digits_classifier(7))
    objectives = studies.DEFAULT_OBJECTIVES
    with studies._quiet_optuna():
        study = optuna.create_study(study_name="digits",
                                    storage=studies.make_storage(storage, heartbeat=False),
                                    directions=[studies.OBJECTIVES[o][0] for o in objectives])
    for key, value in {"board": load_board("nucleo_l432kc").to_dict(), "space": "ds_cnn",
                       "dataset": "digits", "seed": 0, "artifact_dir": str(folder / "art"),
                       "class_names": [str(i) for i in range(10)],
                       "preprocessing": {"normalization": {"axis": 2, "mean": [4.9],
                                                           "std": [6.0]}}}.items():
        study.set_user_attr(key, value)
    attrs = {"arch": {"space": "ds_cnn", "blocks": 1}, "compression": {"quantization": "ptq"},
             "accuracy_float": 0.5, "accuracy_int8": 0.5, "estimated_ram_bytes": 3000,
             "estimated_flash_bytes": 60000, "estimated_latency_ms": 1.0, "macs": 1000,
             "params": 500, "tflite_bytes": len(tflite), "trained": True}
    trial = study.ask()
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    studies.set_constraints(trial, [-1.0, -1.0, -1.0])
    studies.upload_bytes(study, trial, "model.tflite", tflite)
    study.tell(trial, [attrs[studies.objective_attr(o, study.user_attrs)] for o in objectives])
    return storage, "digits", tflite
