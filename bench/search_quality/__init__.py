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
        [--boards arduino_nano33_ble,nucleo_l432kc] [--jobs 2] \
        [--out bench/results/search_quality.json]
    .venv/bin/python -m bench.search_quality report [--results bench/results/search_quality.json]
"""

from __future__ import annotations
