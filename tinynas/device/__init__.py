"""Running exported models on a microcontroller or on QEMU over a serial line, and measuring them.

TensorFlow-free: the commands built on this package answer without importing it.
"""

from __future__ import annotations
