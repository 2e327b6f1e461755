"""placeholder"""
from __future__ import annotations
def kws_synth_missing():
    return "not yet"
def load_kws_synth(seed=0, limit=None):
    raise NotImplementedError
