"""What an export knows about the model besides its ``.tflite``: where it comes from (study,
trial, board, dataset) and what it needs around it (class names, preprocessing)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinynas.study import TrialModel


@dataclass(frozen=True)
class ExportInfo:
    """Context written into ``model_config.h``, ``report.md`` and the export manifest.

    Attributes:
        study_name: The study the model comes from, if any.
        trial: The trial number.
        board: The board as :meth:`tinynas.boards.Board.to_dict` gives it.
        arch: The architecture (includes ``space``).
        compression: The compression settings.
        figures: The trial's user attributes (accuracies, estimates, measured arena, stages).
        class_names: Label of each output index.
        preprocessing: How a raw sample becomes a model input (normalization, features).
        dataset: The dataset name or path, so ``tinynas verify`` can replay its test split.
        seed: The seed the dataset's split was drawn with.
    """

    study_name: str | None = None
    trial: int | None = None
    board: dict[str, Any] | None = None
    arch: dict[str, Any] | None = None
    compression: dict[str, Any] | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    dataset: str | None = None
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExportInfo:
        """Rebuild from :meth:`to_dict` output (unknown keys are ignored)."""
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_trial(cls, model: TrialModel) -> ExportInfo:
        """The context of a study trial loaded with :func:`tinynas.study.trial_model`."""
        attrs, study = model.user_attrs, model.study_attrs
        return cls(study_name=model.study_name, trial=model.number, board=study.get("board"),
                   arch=attrs.get("arch"), compression=attrs.get("compression"),
                   figures=dict(attrs), class_names=list(study.get("class_names") or []),
                   preprocessing=dict(study.get("preprocessing") or {}),
                   dataset=study.get("dataset"), seed=study.get("seed"))
