"""A finished study written the way ``tinynas search`` writes one, from plausible values.

The attributes, constraints and artifacts follow tinynas.pipeline exactly (same keys, same
system attribute, same artifact names), so what the report and the dashboard show from it is
what they show from a real search; only the training is skipped.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import optuna

from tinynas import study as studies
from tinynas.boards import load_board
from tinynas.report import trial_artifacts

BOARD = "arduino_nano33_ble"


def _stages(rng: random.Random, accuracy: float, tflite: int, attrs: dict, qat: bool,
            pruned: bool) -> list[dict]:
    float_acc = min(1.0, accuracy + rng.uniform(0.0, 0.02))
    ptq = accuracy - (rng.uniform(0.005, 0.03) if qat else 0.0)
    rows = [{"name": "float", "accuracy": float_acc, "tflite_bytes": tflite * 3,
             "compressed_bytes": int(tflite * 2.7), "sparsity": 0.0},
            {"name": "ptq", "accuracy": ptq, "tflite_bytes": tflite,
             "compressed_bytes": int(tflite * 0.85), "sparsity": 0.0,
             "arena_bytes": attrs["estimated_ram_bytes"], "macs": attrs["macs"],
             "latency_ms": attrs["estimated_latency_ms"],
             "flash_bytes": attrs["estimated_flash_bytes"]}]
    if qat:
        rows.append({**rows[-1], "name": "qat", "accuracy": accuracy})
    if pruned:
        rows.append({**rows[-1], "name": "pruned", "accuracy": accuracy - 0.004,
                     "compressed_bytes": int(tflite * 0.5), "sparsity": 0.5})
    return rows


def fabricate_study(folder: Path, name: str = "fab", trials: int = 14, seed: int = 3,
                    validation: bool = False) -> tuple[str, str]:
    """Create a finished study in ``folder/studies.db`` with artifacts in ``folder/artifacts``.

    With ``validation`` the study selects on validation accuracy, which is 3 points above the
    test accuracy for odd block counts and 3 below for even ones.

    Returns:
        The storage URL and the study name.
    """
    rng = random.Random(seed)
    sampler = optuna.samplers.RandomSampler(seed=seed)
    storage = f"sqlite:///{folder}/studies.db"
    board = load_board(BOARD)
    objectives = list(studies.DEFAULT_OBJECTIVES)
    with studies._quiet_optuna():
        study = optuna.create_study(study_name=name,
                                    storage=studies.make_storage(storage, heartbeat=False),
                                    directions=[studies.OBJECTIVES[o][0] for o in objectives],
                                    sampler=sampler)
        study.set_metric_names([studies.OBJECTIVES[o][2] for o in objectives])
    for key, value in {
        "board": board.to_dict(), "space": "ds_cnn", "space_path": "search_spaces/ds_cnn.toml",
        "space_family": "ds_cnn", "dataset": "digits", "dataset_name": "digits",
        "modality": "image", "class_names": [str(i) for i in range(10)],
        "preprocessing": {"normalization": {"axis": 2, "mean": [4.89], "std": [6.02],
                                            "formula": "(x - mean) / std"},
                          "split": {"method": "stratified", "seed": 0, "train": 1259,
                                    "val": 269, "test": 269}},
        "input_shape": [8, 8, 1], "data_shape": [8, 8, 1], "split_sizes": [1259, 269, 269],
        "objectives": objectives, "constraints": list(studies.CONSTRAINTS), "sampler": "random",
        "seed": seed, "epochs": 2, "artifact_dir": str((folder / "artifacts").resolve()),
        "tinynas_version": "0.1.0", "trials": trials,
        **({studies.SELECTION_KEY: "validation"} if validation else {}),
    }.items():
        study.set_user_attr(key, value)
    for _ in range(trials):
        trial = study.ask()
        filters = trial.suggest_categorical("filters", [8, 16, 24, 32, 64, 96, 128])
        blocks = trial.suggest_int("blocks", 1, 4)
        qat = trial.suggest_categorical("quantization", ["ptq", "qat"]) == "qat"
        pruned = trial.suggest_categorical("pruning", ["none", "unstructured"]) != "none"
        ram = int(filters * blocks * 1100 + rng.randint(2000, 9000))
        flash = int(filters * blocks * filters * 40 + 70_000)
        latency = filters * blocks * 0.9 + rng.uniform(1, 5)
        attrs = {
            "arch": {"space": "ds_cnn", "filters": filters, "blocks": blocks},
            "arch_summary": f"DS-CNN {blocks}x{filters}",
            "compression": {"quantization": "qat" if qat else "ptq",
                            "pruning": "unstructured" if pruned else "none",
                            "sparsity": 0.5 if pruned else 0.0, "clusters": 0,
                            "distillation": False},
            "compression_summary": ("qat" if qat else "ptq") + (", unstructured 50%"
                                                                 if pruned else ""),
            "estimated_ram_bytes": ram, "estimated_flash_bytes": flash,
            "estimated_latency_ms": latency, "estimated_model_bytes": flash - 60_000,
            "macs": filters * blocks * 9000, "params": filters * filters * blocks * 10,
            "estimate_ms": 1.2,
        }
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        constraints = [ram / board.ram_limit - 1.0, flash / board.flash_limit - 1.0,
                       latency / board.latency_ms - 1.0]
        studies.set_constraints(trial, constraints)
        accuracy = 0.0
        if all(c <= 0 for c in constraints):
            accuracy = min(0.99, 0.55 + 0.1 * blocks + filters / 400 + rng.uniform(-0.05, 0.05))
            tflite = flash - 60_000
            stages = _stages(rng, accuracy, tflite, attrs, qat, pruned)
            trained = {"trained": True, "accuracy_float": stages[0]["accuracy"],
                       "accuracy_int8": accuracy, "tflite_bytes": tflite,
                       "measured_arena_bytes": int(ram * rng.uniform(0.85, 1.1)),
                       "stages": stages, "epochs": 2,
                       "train_seconds": round(rng.uniform(2, 9), 2)}
            if validation:
                trained["accuracy_int8_val"] = round(accuracy + (0.03 if blocks % 2 else -0.03), 4)
            for key, value in trained.items():
                trial.set_user_attr(key, value)
            studies.upload_bytes(study, trial, "model.tflite",
                                 b"\x1c\x00\x00\x00TFL3" + bytes(rng.randrange(256)
                                                                 for _ in range(64)))
            studies.upload_bytes(study, trial, "stages.json", json.dumps(stages).encode(),
                                 "application/json")
            trial_artifacts(study, trial)
        else:
            trial.set_user_attr("trained", False)
        selected = float(trial.user_attrs.get("accuracy_int8_val", accuracy))
        values = [selected if o == "accuracy" else attrs[studies.OBJECTIVES[o][1]]
                  for o in objectives]
        study.tell(trial, values)
    return storage, name
