"""In-graph token-by-token decoding shared by the generating models.

`sample` (greedy search or sampling with temperature / top-k / top-p) and
`beam_search` drive a model's single-step function (`StepFn`) inside
`tf.while_loop`, so they trace into one `tf.function` with a dynamic batch
size and tensor-valued parameters (SavedModel signature inputs).
"""

from nlpseq.decoding.search import (
    STRATEGIES,
    StepFn,
    beam_search,
    gnmt_length_penalty,
    sample,
    top_k_top_p_filter,
)

__all__ = [
    "STRATEGIES",
    "StepFn",
    "beam_search",
    "gnmt_length_penalty",
    "sample",
    "top_k_top_p_filter",
]
