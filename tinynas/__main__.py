"""``python -m tinynas``."""

from __future__ import annotations

import sys

from tinynas.cli import main

sys.exit(main())
