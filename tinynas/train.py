"""Training one candidate: float training, then the chosen compression steps, each converted to
full int8 and measured, so a trial records what every step gave.

Steps, in order (only those the compression settings ask for):

1. ``float``: train the architecture (early stopping on validation accuracy once
   :data:`EARLY_STOP_WARMUP_STEPS` optimizer updates have passed).
2. ``ptq``: post-training int8 quantization of the float model, the reference point.
3. ``pruned``: channel pruning (narrower layers, in rounds on a polynomial ramp) or magnitude
   pruning (unstructured or 2:4, polynomial schedule), fine-tuned.
4. ``clustered``: weight clustering, fine-tuned (keeping the zeros of a pruned model).
5. ``qat``: quantization-aware training, preserving sparsity or clusters from earlier steps.

The last step's int8 model is the candidate. Every step is measured on the validation split
(what a search selects on) and the test split (what it reports).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tinynas.convert import CALIBRATION_SAMPLES
from tinynas.errors import TrainingError
from tinynas.spaces._base import Arch, Compression, SearchSpace, TrainingConfig

if TYPE_CHECKING:
    import tf_keras

    from tinynas.datasets import Dataset

#: Fine-tuning epochs of each compression step, as a share of the float training epochs.
FINETUNE_SHARE = 0.25
#: Learning rate of the fine-tuning steps relative to the space's learning rate.
FINETUNE_LR_SCALE = 0.1
#: Most shrinking rounds of channel pruning.
CHANNEL_ROUNDS = 3
#: Optimizer updates before early stopping starts to count: a small dataset has few updates per
#: epoch (BasicMotions: 2), and its validation accuracy can sit at chance for the first dozen
#: epochs before it climbs, so a patience counted in epochs alone stops it untrained.
EARLY_STOP_WARMUP_STEPS = 100


def warmup_epochs(steps_per_epoch: int) -> int:
    """Epochs during which early stopping does not watch: enough for
    :data:`EARLY_STOP_WARMUP_STEPS` optimizer updates."""
    return math.ceil(EARLY_STOP_WARMUP_STEPS / max(steps_per_epoch, 1))


@dataclass
class TrainedCandidate:
    """The outcome of :func:`train_candidate`.

    Attributes:
        arch: The architecture of the int8 model (narrower than asked after channel pruning).
        float_model: The trained float model before any compression (the unpruned one after
            channel pruning): what serves as a distillation teacher.
        tflite: The chosen compression's full-int8 model.
        accuracy_float: Test accuracy of ``float_model``.
        accuracy_int8: Test accuracy of ``tflite`` (TFLite reference kernels).
        accuracy_float_val: Validation accuracy of ``float_model``.
        accuracy_int8_val: Validation accuracy of ``tflite``: what a search selects on, so
            that the test accuracy of the models it keeps stays an unbiased estimate.
        stages: One dict per step: ``name``, ``accuracy`` (test), ``val_accuracy``,
            ``tflite_bytes``, ``compressed_bytes`` (zlib level 9), ``sparsity`` (zero weights
            in convolution and dense layers), ``epochs``, and ``tflite`` (the int8 model's
            bytes; absent for the float step, whose size is that of a float32 ``.tflite``).
        epochs: Epochs trained over all steps.
        history: Per-epoch ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` and ``step``
            (which step each epoch belongs to).
    """

    arch: Arch
    float_model: tf_keras.Model
    tflite: bytes
    accuracy_float: float
    accuracy_int8: float
    accuracy_float_val: float
    accuracy_int8_val: float
    stages: list[dict[str, Any]]
    epochs: int
    history: dict[str, list[Any]] = field(default_factory=dict)


def cosine_rate(learning_rate: float, done_epochs: int, epochs: int) -> float:
    """The rate a cosine schedule from ``learning_rate`` to zero over ``epochs`` has reached
    after ``done_epochs``: where float training goes on after a multi-fidelity probe."""
    return learning_rate * 0.5 * (1.0 + math.cos(math.pi * min(done_epochs, epochs) / epochs))


def train_candidate(space: SearchSpace, arch: Arch, compression: Compression, data: Dataset,
                    training: TrainingConfig, seed: int,
                    teacher: tf_keras.Model | None = None,
                    probe: Callable[[float], bool] | None = None,
                    probe_epochs: int = 0, evaluate_test: bool = True) -> TrainedCandidate:
    """Train ``arch`` on ``data``, apply ``compression``, and convert every step to int8.

    Args:
        space: The space ``arch`` belongs to.
        arch: The architecture as sampled (before channel pruning).
        compression: The compression settings.
        data: The dataset (samples in the dataset's shape; reshaped for the model here).
        training: Epochs, batch size, learning rate and its schedule, patience, augmentations.
        seed: Seeds weights, shuffling and augmentation.
        teacher: A Keras model whose soft labels join the loss when
            ``compression.distillation`` is set (ignored otherwise).
        probe: Multi-fidelity gate: called with the best validation accuracy after
            ``probe_epochs`` epochs of float training; returning False stops the candidate.
        probe_epochs: Epochs of the short probe (the probe is skipped unless it is shorter
            than the full budget).
        evaluate_test: False leaves every test accuracy NaN (a cross-validation fold only
            needs its validation accuracy).

    Returns:
        The trained candidate with its before/after steps.

    Raises:
        TrainingError: NaN loss, converter failure, or a teacher that does not fit the data.
        NotPromoted: The probe said no.
        SearchSpaceError: The space does not accept the dataset's input shape.
    """
    from tinynas.compress import (
        channel_schedule,
        cluster,
        copy_model,
        prune,
        quantize_aware,
        shrink_channels,
        strip_clustering,
        strip_pruning,
    )
    from tinynas.keras_env import seed_everything

    seed_everything(seed)
    input_shape = space.model_input_shape(tuple(data.input_shape))
    use_teacher = teacher if compression.distillation else None
    run = _Run(data, input_shape, training, seed, use_teacher, evaluate_test)
    finetune = max(1, round(training.epochs * FINETUNE_SHARE))
    finetune_lr = training.learning_rate * FINETUNE_LR_SCALE

    float_model = space.build(arch, input_shape, data.num_classes)
    cosine = training.lr_schedule == "cosine"
    if probe is not None and 0 < probe_epochs < training.epochs:
        # Multi-fidelity: a short probe decides whether the rest of the budget is spent.
        from tinynas.fidelity import NotPromoted

        run.fit(float_model, "float", probe_epochs, training.learning_rate,
                decay_epochs=training.epochs if cosine else 0)
        probe_accuracy = max(run.history["val_accuracy"], default=0.0)
        if not probe(probe_accuracy):
            raise NotPromoted(f"validation accuracy {probe_accuracy:.4f} after {probe_epochs} "
                              f"epochs: not promising enough for the full budget")
        rest = training.epochs - probe_epochs
        run.fit(float_model, "float", rest,
                cosine_rate(training.learning_rate, probe_epochs, training.epochs) if cosine
                else training.learning_rate,
                early_stopping=True, decay_epochs=rest if cosine else 0)
    else:
        run.fit(float_model, "float", training.epochs, training.learning_rate,
                early_stopping=True, decay_epochs=training.epochs if cosine else 0)
    run.float_stage(float_model)
    run.int8_stage("ptq", float_model)

    current, current_arch = copy_model(float_model), arch
    sparse = False
    if compression.pruning == "channel" and compression.sparsity > 0:
        rounds = min(CHANNEL_ROUNDS, finetune)
        for step_sparsity in channel_schedule(compression.sparsity, rounds):
            current_arch = space.effective_arch(
                arch, Compression(pruning="channel", sparsity=step_sparsity))
            narrower = space.build(current_arch, input_shape, data.num_classes)
            shrink_channels(current, narrower)
            current = narrower
            run.fit(current, "pruned", max(1, finetune // rounds), finetune_lr)
        run.int8_stage("pruned", current)
    elif compression.pruning in ("unstructured", "2:4") and (
            compression.sparsity > 0 or compression.pruning == "2:4"):
        wrapped, callbacks = prune(current, compression.pruning, compression.sparsity,
                                   finetune * run.steps_per_epoch)
        run.fit(wrapped, "pruned", finetune, finetune_lr, callbacks=callbacks)
        current, sparse = strip_pruning(wrapped), True
        run.int8_stage("pruned", current)
    if compression.clusters:
        wrapped = cluster(current, compression.clusters, preserve_sparsity=sparse)
        run.fit(wrapped, "clustered", finetune, finetune_lr)
        current = strip_clustering(wrapped)
        run.int8_stage("clustered", current)
    if compression.quantization == "qat":
        preserve = "clusters" if compression.clusters else "sparsity" if sparse else "none"
        qat = quantize_aware(current, preserve, preserve_sparsity=sparse)
        run.fit(qat, "qat", finetune, finetune_lr, early_stopping=True)
        run.int8_stage("qat", qat)

    final = run.stages[-1]
    return TrainedCandidate(
        arch=current_arch,
        float_model=float_model,
        tflite=final["tflite"],
        accuracy_float=run.stages[0]["accuracy"],
        accuracy_int8=final["accuracy"],
        accuracy_float_val=run.stages[0]["val_accuracy"],
        accuracy_int8_val=final["val_accuracy"],
        stages=run.stages,
        epochs=len(run.history["loss"]),
        history=run.history,
    )


def load_teacher(path: Path) -> tf_keras.Model:
    """Load a user-supplied Keras model (``.h5`` or ``.keras``) to distill from.

    Raises:
        TrainingError: The file cannot be read as a Keras model.
    """
    from tinynas.keras_env import keras

    if not path.is_file():
        raise TrainingError(f"teacher model {path}: no such file")
    try:
        return keras().models.load_model(str(path), compile=False)
    except Exception as exc:  # h5py, zipfile and Keras raise unrelated types
        first = str(exc).strip().splitlines()
        raise TrainingError(f"teacher model {path}: cannot be loaded as a Keras model "
                            f"({first[0] if first else type(exc).__name__})") from None


def check_teacher(teacher: tf_keras.Model, input_shape: tuple[int, ...],
                  num_classes: int) -> tuple[int, ...]:
    """Refuse a teacher that does not fit the data; return the input shape it expects.

    Raises:
        TrainingError: Its output is not one value per class, or its input does not hold one
            sample.
    """
    out_shape = tuple(teacher.output_shape)
    if len(out_shape) != 2 or out_shape[-1] != num_classes:
        raise TrainingError(f"teacher model {teacher.name!r}: output shape {out_shape} does not "
                            f"match the dataset's {num_classes} classes (expected (None, "
                            f"{num_classes}))")
    in_shape = tuple(int(d) for d in teacher.input_shape[1:])
    if math.prod(in_shape) != math.prod(input_shape) or None in teacher.input_shape[1:]:
        raise TrainingError(f"teacher model {teacher.name!r}: input shape {in_shape} does not "
                            f"hold one sample of shape {tuple(input_shape)}")
    return in_shape


class _Feed:
    """The generator ``tf.data`` calls for training batches, which can let go of it.

    In eager mode ``Dataset.from_generator`` registers its generator function with the process's
    root graph, which never releases it: whatever the function holds (here the whole run: its
    validation and test copies, stages with their ``.tflite`` bytes, a teacher model) would stay
    in memory for every ``fit`` of every candidate. The dataset holds this small object instead,
    and ``close`` drops the real generator once ``fit`` has returned.
    """

    def __init__(self, make: Callable[[], Iterator[Any]]):
        self._make: Callable[[], Iterator[Any]] | None = make

    def __call__(self) -> Iterator[Any]:
        if self._make is None:
            raise RuntimeError("training batches were asked for after training ended")
        return self._make()

    def close(self) -> None:
        """Drop the generator and everything it holds."""
        self._make = None


class _Run:
    """Shared state of one candidate's training: data, targets, history and stages."""

    def __init__(self, data: Dataset, input_shape: tuple[int, ...], training: TrainingConfig,
                 seed: int, teacher: tf_keras.Model | None, evaluate_test: bool = True):
        from tinynas.augment import parse_options

        self.data = data
        self.input_shape = input_shape
        self.training = training
        self.rng = np.random.default_rng(seed)
        self.teacher = teacher
        self.augment = parse_options([a for a in training.augment if a != "none"],
                                     data.modality) if training.augment else {}
        self.teacher_shape = (check_teacher(teacher, input_shape, data.num_classes)
                              if teacher is not None else None)
        self.x_val = self._shaped(data.x_val)
        self.val_targets = self._targets(data.x_val, data.y_val)
        self.x_test = self._shaped(data.x_test) if evaluate_test else None
        self.steps_per_epoch = max(1, math.ceil(len(data.x_train) / training.batch_size))
        self.history: dict[str, list[Any]] = {"loss": [], "accuracy": [], "val_loss": [],
                                              "val_accuracy": [], "step": []}
        self.stages: list[dict[str, Any]] = []
        pick = self.rng.permutation(len(data.x_train))[:CALIBRATION_SAMPLES]
        self.representative = self._shaped(data.x_train[pick])
        self._train_targets: np.ndarray | None = None

    def _shaped(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float32).reshape((-1, *self.input_shape))

    def _targets(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        from tinynas.compress import distillation_targets

        probs = None
        if self.teacher is not None:
            assert self.teacher_shape is not None
            raw = self.teacher.predict(np.asarray(x, np.float32).reshape(
                (-1, *self.teacher_shape)), batch_size=256, verbose=0)
            probs = _as_probabilities(np.asarray(raw, dtype=np.float32))
        return distillation_targets(y, self.data.num_classes, probs)

    def _batches(self) -> tuple[Any, _Feed]:
        """Training batches, reshuffled (and augmented afresh) every epoch, and their feed
        (close it once training is over).

        A ``tf.data`` pipeline with exact shapes: Keras infers none from a ``Sequence``, and an
        unrolled GRU needs a fixed number of steps.
        """
        from tinynas.augment import augment
        from tinynas.keras_env import tensorflow

        tf = tensorflow()
        if not self.augment and self._train_targets is None:
            self._train_targets = self._targets(self.data.x_train, self.data.y_train)
        fixed = None if self.augment else self._train_targets
        size = self.training.batch_size

        def batches() -> Any:
            order = self.rng.permutation(len(self.data.x_train))
            for start in range(0, len(order), size):
                idx = order[start:start + size]
                x, y = self.data.x_train[idx], self.data.y_train[idx]
                if fixed is not None:
                    yield self._shaped(x), fixed[idx]
                    continue
                x, _ = augment(x, y, self.data.modality, self.augment, self.rng,
                               background=self.data.background,
                               preprocessing=self.data.preprocessing)
                yield self._shaped(x), self._targets(x, y)

        width = 2 * self.data.num_classes
        feed = _Feed(batches)
        dataset = tf.data.Dataset.from_generator(feed, output_signature=(
            tf.TensorSpec((None, *self.input_shape), tf.float32),
            tf.TensorSpec((None, width), tf.float32)))
        return dataset, feed

    def fit(self, model: tf_keras.Model, step: str, epochs: int, learning_rate: float,
            early_stopping: bool = False, callbacks: list[Any] | None = None,
            decay_epochs: int = 0) -> None:
        """Compile and train ``model``; refuse a NaN loss.

        With ``decay_epochs`` above 0 the rate follows a cosine from ``learning_rate`` down to
        zero over that many epochs (counted in batches), else it stays at ``learning_rate``.
        """
        from tinynas.compress import distillation_loss, label_accuracy
        from tinynas.keras_env import forgetting_custom_gradients, keras

        k = keras()
        accuracy = label_accuracy(self.data.num_classes)
        accuracy.__name__ = "accuracy"
        rate: Any = learning_rate
        if decay_epochs > 0:
            rate = k.optimizers.schedules.CosineDecay(learning_rate,
                                                      decay_epochs * self.steps_per_epoch)
        model.compile(optimizer=k.optimizers.Adam(rate),
                      loss=distillation_loss(self.data.num_classes, self.teacher is not None),
                      metrics=[accuracy])
        cbs = [k.callbacks.TerminateOnNaN(), *(callbacks or [])]
        if early_stopping:
            cbs.append(k.callbacks.EarlyStopping(
                monitor="val_accuracy", mode="max", patience=self.training.patience,
                restore_best_weights=True,
                start_from_epoch=warmup_epochs(self.steps_per_epoch)))
        batches, feed = self._batches()
        try:
            with forgetting_custom_gradients():
                result = model.fit(batches, validation_data=(self.x_val, self.val_targets),
                                   epochs=epochs, verbose=0, callbacks=cbs)
        finally:
            feed.close()
        losses = [float(v) for v in result.history.get("loss", [])]
        if not losses or not all(math.isfinite(v) for v in losses):
            bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), 0)
            raise TrainingError(f"{step} training: loss became NaN at epoch {bad + 1} (learning "
                                f"rate {learning_rate:g}); lower learning_rate in [training]")
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            self.history[key] += [float(v) for v in result.history.get(key, [])]
        self.history["step"] += [step] * len(losses)

    def float_stage(self, model: tf_keras.Model) -> None:
        """Record the float model: accuracy and the size of its float32 ``.tflite``."""
        from tinynas.compress import compressed_bytes
        from tinynas.convert import to_float_tflite

        def accuracy(x: np.ndarray | None, y: np.ndarray) -> float:
            if x is None:
                return math.nan
            predicted = model.predict(x, batch_size=256, verbose=0).argmax(axis=1)
            return float(np.mean(predicted == y)) if len(predicted) else 0.0

        tflite = to_float_tflite(model, self.input_shape)
        self.stages.append({"name": "float", "accuracy": accuracy(self.x_test, self.data.y_test),
                            "val_accuracy": accuracy(self.x_val, self.data.y_val),
                            "tflite_bytes": len(tflite),
                            "compressed_bytes": compressed_bytes(tflite), "sparsity": 0.0,
                            "epochs": self.history["step"].count("float")})

    def int8_stage(self, name: str, model: tf_keras.Model) -> None:
        """Convert ``model`` to full int8, measure it on the test split and record it."""
        from tinynas.compress import compressed_bytes, weight_sparsity
        from tinynas.convert import evaluate_tflite, to_int8_tflite

        tflite = to_int8_tflite(model, self.input_shape, self.representative)
        self.stages.append({
            "name": name,
            "accuracy": (math.nan if self.x_test is None else
                         evaluate_tflite(tflite, self.x_test, self.data.y_test)),
            "val_accuracy": evaluate_tflite(tflite, self.x_val, self.data.y_val),
            "tflite_bytes": len(tflite),
            "compressed_bytes": compressed_bytes(tflite),
            "sparsity": round(weight_sparsity(tflite), 4),
            "epochs": self.history["step"].count(name),
            "tflite": tflite,
        })


def _as_probabilities(raw: np.ndarray) -> np.ndarray:
    """A teacher's outputs as probabilities: softmax applied unless they already are."""
    if raw.min() >= 0 and np.allclose(raw.sum(axis=1), 1.0, atol=1e-3):
        return raw
    shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
    probabilities: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return probabilities
