"""Every bound on a user-sized input or output, in one place (documented in the README).

A value past a limit is refused with one GenseqError naming the limit, before any work.
"""

from __future__ import annotations

# ---- generation ------------------------------------------------------------------------
MAX_WRITE_CHARS = 5_000  # characters of text for `genseq write` (after folding)
STEPS_PER_CHAR = 40  # per-line cap: a line ends after 40 points per character (IAM: ~25)
MAX_WRITE_STEPS = MAX_WRITE_CHARS * STEPS_PER_CHAR  # total cap: points over all lines
MAX_SAMPLE_STEPS = 100_000  # `genseq hand sample --steps`
MAX_TEXT_SAMPLE = 10_000_000  # `genseq text sample --length` (symbols)

# ---- files a user hands over -----------------------------------------------------------
MAX_STYLE_BYTES = 16 * 2**20  # a --style-from file (SVG or JSON)
MAX_STYLE_POINTS = 200_000  # points of a style line, as read and after resampling
MAX_STYLE_COORD = 1e9  # |x|, |y| of a style's points (any units; beyond, float spans overflow)
MAX_CONFIG_BYTES = 2**20  # a model's config.json

# ---- model configurations (config.json, checkpoints) -------------------------------------
MAX_LAYERS = 64
MAX_WIDTH = 2**20  # any *_size field: hidden units, vocabulary, alphabet, embedding
MAX_MIXTURES = 1_024  # n_mixtures (M) and n_window (K)
MAX_PARAMETERS = 2_000_000_000  # weights of the model a config describes (counted, not built)
