"""Checks the CRF functions under `jax.jit` against brute force; exits 1 on mismatch.

Run as `KERAS_BACKEND=jax python tests/layers/_crf_jax_check.py` from the
repository root (tests/layers/test_crf.py does this in a subprocess).
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from nlpseq.layers.crf import (  # noqa: E402
    crf_decode,
    crf_log_likelihood,
    crf_log_norm,
    crf_sequence_score,
)
from tests.helpers import crf_mismatches, crf_test_case  # noqa: E402


def main():
    assert keras.backend.backend() == "jax", keras.backend.backend()
    problems = []
    for seed, steps, lengths in [(0, 4, (4, 0, 1, 3, 2)), (1, 1, (1, 0)), (2, 3, (3, 3))]:
        case = crf_test_case(seed=seed, steps=steps, lengths=lengths)
        problems += crf_mismatches(
            jax.jit(crf_log_norm), jax.jit(crf_sequence_score), jax.jit(crf_decode), case
        )
    # Gradients under jit: finite, and zero for the length-0 sequence.
    case = crf_test_case(seed=3)
    weights = (case["transitions"], case["start"], case["end"])

    def loss(potentials, transitions):
        return -crf_log_likelihood(
            potentials, case["tags"], case["mask"], transitions, case["start"], case["end"]
        ).sum()

    grad_pot, grad_trans = jax.jit(jax.grad(loss, argnums=(0, 1)))(
        case["potentials"], weights[0]
    )
    if not (np.all(np.isfinite(grad_pot)) and np.all(np.isfinite(grad_trans))):
        problems.append("non-finite gradients")
    if np.abs(np.asarray(grad_pot)[1]).max() != 0:
        problems.append("length-0 sequence has a non-zero gradient")
    for problem in problems:
        print("MISMATCH", problem)
    print("ok" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
