"""The smallest search the distributed tests and benchmark run: digits on a board everything
fits, one training epoch per candidate."""

from __future__ import annotations

from pathlib import Path

BOARD = "stm32h743zi"

# A candidate trains in seconds. Candidates that repeat an earlier architecture copy its model,
# so every complete trial still stores a model of its own.
TINY_SPACE = """
[space]
family = "ds_cnn"
input_ranks = [3]

[architecture]
min_input = [8, 8]
first_filters = [8, 8]
first_kernel = [3]
first_stride = [1, 2]
blocks = [1, 1]
filters = [8, 8]
kernel = [3]
stride = [1, 2]
pooling = ["avg"]
dense_units = [0, 0]
dropout = [0.0, 0.3]

[training]
epochs = 1
batch_size = 64
patience = 1
"""


def search_argv(storage: str, name: str, space: Path, artifacts: Path, trials: int,
                workers: int, seed: int = 3, timeout: float | None = None) -> list[str]:
    """``tinynas search`` arguments (without the program) for a random-sampler study."""
    argv = ["search", "--board", BOARD, "--space", str(space), "--dataset", "digits",
            "--trials", str(trials), "--storage", storage, "--study", name, "--sampler",
            "random", "--seed", str(seed), "--artifact-dir", str(artifacts), "--workers",
            str(workers)]
    return argv + (["--timeout", f"{timeout:g}"] if timeout is not None else [])
