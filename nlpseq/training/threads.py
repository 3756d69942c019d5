"""The CPU thread settings of a training process."""

import warnings

import keras

from nlpseq.checks import is_whole_number
from nlpseq.errors import ConfigError


def set_intra_op_threads(threads):
    """Sets how many threads TensorFlow gives one op, if TensorFlow has not started yet.

    Why: a tagger's step is thousands of small ops (an LSTM step is a 32 x 128
    by 128 x 512 matmul and a few elementwise ops). Splitting each across the
    cores costs more than it saves, while TensorFlow's inter-op pool already
    runs independent ops (the two LSTM directions, their input projections) on
    different cores. One thread per op trained the benchmark tagger about 1.1x
    faster on 2 cores (BENCHMARKS.md). Large matmuls (language-model softmax)
    gain from more threads, so this is a per-task setting.

    Args:
        threads: threads per op; None keeps TensorFlow's default (all cores).

    Returns:
        True when the setting was applied; False for None, other backends, or
        a TensorFlow runtime that had already started (then a warning says so
        when the running value differs).
    """
    if threads is not None and not is_whole_number(threads):
        raise ConfigError(f"training.intra_op_threads must be a positive integer or null, got {threads!r}")
    if threads is None or keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:
        running = tf.config.threading.get_intra_op_parallelism_threads()
        if running != threads:
            warnings.warn(f"TensorFlow had already started with intra-op threads {running or 'default'}; "
                          f"training.intra_op_threads={threads} applies only in a fresh process", stacklevel=2)
        return False
    return True
