"""Repeated training: how far one model's int8 accuracy moves with the training seed alone.

A search's front and the references are each trained once per seed, and the dataset seed fixes
both the split and the training (initial weights, shuffling). On a test split of a few hundred
samples two models that differ by one or two samples may differ by chance. ``repeats`` trains a
list of models on one fixed split with several training seeds, so that a comparison can be made
between means with their spread.

The models come from a TOML file, one ``[[model]]`` table each: either ``reference = NAME``
(a model of :mod:`tinynas.references`, trained with its own space's settings and compression),
or ``space = NAME``, ``arch = {...}`` (the architecture as a trial stores it) and optional
``compression = {...}`` (:class:`tinynas.spaces.Compression` fields; quantization-aware
training when absent). ``name`` is optional: a reference's name, else the architecture's summary.
A space model may name ``teacher = NAME``, another model of the file without a teacher: each of
its trainings distills from that model's float model trained on the same split with the same
training seed (``distillation`` is then on, as in a search that distills). A teacher is trained
once per split and seed and kept in the work folder for the students that follow. Any model may
give its own ``epochs``, in place of the run's ``--epochs``: a teacher with a larger budget
than its students.
"""

from __future__ import annotations

import statistics
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinynas.spaces import Arch, Compression, SearchSpace


class ModelsFileError(ValueError):
    """A models file that cannot be read; the message is one line naming the file."""


@dataclass(frozen=True)
class ModelSpec:
    """One model to train repeatedly.

    Attributes:
        name: Label in the results and tables.
        reference: A reference's name, or None for a space model.
        space: The space of a space model.
        arch: Its architecture, as :meth:`tinynas.spaces.SearchSpace.arch_from_dict` reads it.
        compression: :class:`tinynas.spaces.Compression` fields of a space model.
        teacher: The model distilled from, trained on each split with each training seed.
        epochs: Its own float-epoch budget, or None for the run's.
    """

    name: str
    reference: str | None = None
    space: str | None = None
    arch: dict[str, Any] = field(default_factory=dict)
    compression: dict[str, Any] = field(default_factory=dict)
    teacher: ModelSpec | None = None
    epochs: int | None = None

    def load(self) -> tuple[SearchSpace, Arch, Compression]:
        """The space, architecture and compression to train."""
        from tinynas.references import get_reference
        from tinynas.spaces import Compression, load_space

        if self.reference is not None:
            ref = get_reference(self.reference)
            space, arch = ref.load()
            return space, arch, ref.compression
        assert self.space is not None
        space = load_space(self.space)
        return (space, space.arch_from_dict(self.arch),
                Compression.from_dict(self._compression_fields()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (part of every result row)."""
        if self.reference is not None:
            return {"model": self.name, "reference": self.reference}
        teacher = {"teacher": self.teacher.name} if self.teacher is not None else {}
        return {"model": self.name, "space": self.space, "arch": self.arch,
                "compression": self._compression_fields(), **teacher}

    def _compression_fields(self) -> dict[str, Any]:
        """The compression given, quantization-aware training where it names none, and
        distillation when there is a teacher."""
        distill = {"distillation": True} if self.teacher is not None else {}
        return {"quantization": "qat", **self.compression, **distill}


def load_models(path: Path) -> list[ModelSpec]:
    """Read and check a models file (see the module's description).

    Raises:
        ModelsFileError: Unreadable TOML, no models, or a model that names neither a reference
            nor a space and architecture, or whose space or architecture does not load.
    """
    from tinynas.errors import TinyNASError

    try:
        tables = tomllib.loads(path.read_text()).get("model")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ModelsFileError(f"{path}: {exc}") from None
    if not isinstance(tables, list) or not tables:
        raise ModelsFileError(f"{path}: expected one or more [[model]] tables")
    models: list[ModelSpec] = []
    for i, table in enumerate(tables, 1):
        where = f"{path}: model {i}"
        epochs = table.get("epochs")
        if epochs is not None and (type(epochs) is not int or epochs < 1):
            raise ModelsFileError(f"{where}: epochs must be a whole number of at least 1, got "
                                  f"{epochs!r}")
        if "reference" in table:
            spec = ModelSpec(name=str(table.get("name", table["reference"])),
                             reference=str(table["reference"]), epochs=epochs)
        elif "space" in table and isinstance(table.get("arch"), dict):
            spec = ModelSpec(name=str(table.get("name", "")), space=str(table["space"]),
                             arch=dict(table["arch"]),
                             compression=dict(table.get("compression", {})), epochs=epochs)
        else:
            raise ModelsFileError(f"{where}: needs reference = NAME, or space = NAME and an "
                                  "arch table")
        try:
            space, arch, _ = spec.load()
        except (TinyNASError, TypeError, ValueError, KeyError) as exc:
            raise ModelsFileError(f"{where}: {exc}") from None
        models.append(spec if spec.name else replace(spec, name=space.describe(arch)))
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ModelsFileError(f"{path}: two models share a name; give each a distinct name")
    return _with_teachers(path, tables, models)


def _with_teachers(path: Path, tables: list[dict[str, Any]],
                   models: list[ModelSpec]) -> list[ModelSpec]:
    """``models`` with each ``teacher = NAME`` resolved to that model of the file."""
    by_name = {m.name: m for m in models}
    students = {m.name for t, m in zip(tables, models, strict=True) if "teacher" in t}
    out = []
    for i, (table, spec) in enumerate(zip(tables, models, strict=True), 1):
        if "teacher" not in table:
            if spec.compression.get("distillation"):
                raise ModelsFileError(f"{path}: model {i}: distillation needs teacher = NAME, "
                                      "another model of the file")
            out.append(spec)
            continue
        name = str(table["teacher"])
        teacher = by_name.get(name)
        if spec.reference is not None or teacher is None or name in students:
            raise ModelsFileError(f"{path}: model {i}: teacher must name another model of the "
                                  f"file that has no teacher itself, and only a space model may "
                                  f"have one (got {name!r})")
        out.append(replace(spec, teacher=teacher))
    return out


@dataclass(frozen=True)
class RepeatJob:
    """One model trained on one split (dataset seed) with one training seed."""

    dataset: str
    model: ModelSpec
    split: int
    training_seed: int
    epochs: int
    lr_schedule: str = "constant"
    augment: tuple[str, ...] = ()
    learning_rate: float | None = None
    batch_size: int | None = None

    kind = "repeat"

    @property
    def model_epochs(self) -> int:
        """The float epochs the model trains for: its own, else the run's."""
        return self.model.epochs or self.epochs

    @property
    def teacher_epochs(self) -> int:
        """The float epochs the model's teacher trains for: its own, else the run's."""
        assert self.model.teacher is not None
        return self.model.teacher.epochs or self.epochs

    def key(self) -> str:
        """Identifies the job's result in the results file (a constant learning rate, no
        augmentation and the space's learning rate and batch size, the defaults, add nothing to
        the key)."""
        return f"repeat/e{self.model_epochs}{self._setting()}/{self._cell()}"

    def teacher_key(self) -> str:
        """Identifies the teacher's float model for this split and seed (also the file name
        it is kept under, with ``/`` and ``:`` replaced)."""
        assert self.model.teacher is not None
        return (f"teacher/e{self.teacher_epochs}{self._setting()}/{self.dataset}/"
                f"{self.model.teacher.name}/split{self.split}/t{self.training_seed}")

    def _setting(self) -> str:
        schedule = "" if self.lr_schedule == "constant" else f"/{self.lr_schedule}"
        augment = f"/augment-{'+'.join(self.augment)}" if self.augment else ""
        rate = "" if self.learning_rate is None else f"/lr{self.learning_rate:g}"
        batch = "" if self.batch_size is None else f"/batch{self.batch_size}"
        return schedule + augment + rate + batch

    def _cell(self) -> str:
        return f"{self.dataset}/{self.model.name}/split{self.split}/t{self.training_seed}"

    def training(self) -> dict[str, Any]:
        """The ``[training]`` fields every model of the run is trained with (the learning rate
        and batch size only where the run sets them; else each model's space's)."""
        return {"lr_schedule": self.lr_schedule, "augment": self.augment,
                **self._rate_and_batch()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (a student's also gives its teacher's epochs)."""
        teacher = {"teacher_epochs": self.teacher_epochs} if self.model.teacher else {}
        return {"kind": self.kind, "dataset": self.dataset, "split": self.split,
                "training_seed": self.training_seed, "epochs": self.model_epochs,
                "lr_schedule": self.lr_schedule, "augment": list(self.augment),
                **self._rate_and_batch(), **self.model.to_dict(), **teacher}

    def _rate_and_batch(self) -> dict[str, Any]:
        return {name: value for name, value in (("learning_rate", self.learning_rate),
                                                ("batch_size", self.batch_size))
                if value is not None}


def repeat_jobs(dataset: str, models: list[ModelSpec], splits: tuple[int, ...],
                training_seeds: tuple[int, ...], epochs: int,
                lr_schedule: str = "constant",
                augment: tuple[str, ...] = (),
                learning_rate: float | None = None,
                batch_size: int | None = None) -> list[RepeatJob]:
    """Every model on every split with every training seed, one training seed at a time; the
    students last, one student at a time, so that two students of one teacher seldom train
    its model for the same split and seed at once. ``learning_rate`` and ``batch_size``, where
    given, replace every model's space's."""
    def job(model: ModelSpec, split: int, seed: int) -> RepeatJob:
        return RepeatJob(dataset, model, split, seed, epochs, lr_schedule, augment,
                         learning_rate, batch_size)

    plain = [m for m in models if m.teacher is None]
    students = [m for m in models if m.teacher is not None]
    return ([job(m, s, t) for t in training_seeds for s in splits for m in plain]
            + [job(m, s, t) for m in students for t in training_seeds for s in splits])


def repeat_table(rows: list[dict[str, Any]], baseline: str | None = None) -> str:
    """Markdown: per dataset and split, each model's int8 accuracy by training seed, its mean
    and standard deviation, and (with ``baseline``, listed first) the difference of means
    against it and whether the model is within half the baseline's arena."""
    rows = [r for r in rows if r.get("kind") == "repeat" and "error" not in r]
    lines = ["| dataset | split | model | RAM | int8 by training seed | mean | sd |"
             + (f" mean - {baseline} | within half its RAM |" if baseline else ""),
             "| --- | --- | --- | --- | --- | --- | --- |" + (" --- | --- |" if baseline else "")]
    groups: dict[tuple[str, int], dict[str, list[dict[str, Any]]]] = {}
    for row in rows:
        by_model = groups.setdefault((row["dataset"], row["split"]), {})
        by_model.setdefault(row["model"], []).append(row)
    for (dataset, split), models in sorted(groups.items()):
        base = models.get(baseline or "")
        base_mean = statistics.mean(r["accuracy_int8"] for r in base) if base else None
        order = sorted(models, key=lambda name: name != baseline)
        for name in order:
            runs = models[name]
            runs.sort(key=lambda r: r["training_seed"])
            accs = [r["accuracy_int8"] for r in runs]
            mean = statistics.mean(accs)
            sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
            shown = name.replace("|", "\\|")
            line = (f"| {dataset} | {split} | {shown} | {runs[0]['ram_bytes'] / 1024:.1f} KB | "
                    f"{' / '.join(f'{a:.3f}' for a in accs)} | {mean:.3f} | {sd:.3f} |")
            if baseline:
                if base_mean is None or base is None:
                    line += " - | - |"
                else:
                    half = runs[0]["ram_bytes"] * 2 <= base[0]["ram_bytes"]
                    line += f" {mean - base_mean:+.3f} | {'yes' if half else 'no'} |"
            lines.append(line)
    return "\n".join(lines)
