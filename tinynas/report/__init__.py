"""Study reports (HTML with Markdown beside it) and per-trial reports stored as artifacts.

matplotlib (Agg backend) draws every figure as a PNG, so reports read offline; TensorFlow is
never imported.
"""

from __future__ import annotations

from tinynas.report._study import study_document, write_report
from tinynas.report._trial import trial_artifacts, trial_document

__all__ = ["study_document", "trial_artifacts", "trial_document", "write_report"]
