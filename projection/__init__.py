"""Bench <-> projector geometry, the bench view and its pygame renderer, the projection node."""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # no banner in the cell's logs
