"""Search-quality benchmark: tinynas against random search and hand-designed models.

For each dataset and board of the grid, over several seeds:

* a tinynas search with its default sampler at a fixed trial budget,
* a random search at the same budget (same space, same training),
* the hand-designed references of :mod:`tinynas.references` for the dataset's modality,
  trained by the same pipeline,

then the hypervolume of each front (:mod:`tinynas.hypervolume`) and whether the tinynas front
meets the goal against every reference. ``run`` writes results as it goes, so an interrupted run
keeps what it finished and a second run continues it; ``report`` prints the Markdown tables.

Usage::

    .venv/bin/python -m bench.search_quality run [--trials 16] [--epochs 8] [--seeds 0,1,2] \
        [--datasets digits,basic_motions,kws_synth,fashion_mnist:3000] \
        [--boards arduino_nano33_ble,nucleo_l432kc] [--samplers nsga2,random] \
        [--fidelity full|halving] [--folds K] [--order dataset|seed] [--jobs 1] \
        [--budget-minutes M] [--out bench/results/search_quality.json]
    .venv/bin/python -m bench.search_quality report [--results FILE ...]
    .venv/bin/python -m bench.search_quality profile [--dataset digits] \
        [--reference keras_mnist_cnn] [--epochs 8]
    .venv/bin/python -m bench.search_quality repeats --models FILE.toml --out FILE.json \
        [--dataset fashion_mnist:3000] [--splits 0,1,2] [--training-seeds 0,1,2,3,4] \
        [--epochs 5] [--only NAME,...] [--baseline NAME] [--jobs 1] [--threads 1]
    .venv/bin/python -m bench.search_quality predictions --results FILE ... \
        [--samplers nsga2] [--space mixed_cnn]

``predictions`` (:mod:`bench.search_quality.predictions`) replays each search's trials and
measures how well the offspring chooser's accuracy model, and the one it replaced, predicted
them before training.

``repeats`` (:mod:`bench.search_quality.repeats`) trains fixed models with several training
seeds on each split, to tell a difference between two models from the spread of one.

With the same seed, NSGA-II's first generation (8 trials) is the random sampler's first 8
draws, and training is deterministic: both searches hold the same first 8 models, and only the
trials after them can tell the samplers apart. Budgets of 8 trials or fewer compare nothing.
"""

from __future__ import annotations
