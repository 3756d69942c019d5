"""A corpus as one token stream, cut into rows and BPTT windows (tf.data) for language models.

The standard recipe (Zaremba et al. 2014; Merity et al. 2018): the whole corpus
is one stream of ids with an end-of-sentence token after every line; the stream
is cut into `batch_size` contiguous rows, and the rows are read left to right in
windows of `bptt` steps, so that window k+1 of a row continues window k and the
model's state can be carried from one to the next.
"""

import math

import numpy as np

from nlpseq.errors import ConfigError


def stream_arrays(ids, batch_size, *, keep_tail):
    """Lays a stream out as `batch_size` rows of inputs, targets and weights.

    The stream is preceded by its own first context: position 0 predicts
    `ids[0]` from the end-of-sentence token the caller put before it, so every
    token of the stream is a target exactly once.

    Args:
        ids: 1-D int sequence, the stream *with* a leading end-of-sentence id
            (targets are `ids[1:]`).
        batch_size: number of rows.
        keep_tail: True (evaluation) pads the last row so every target is
            kept, with weight 0 on the padding; False (training) drops the
            last `len % batch_size` targets, as is standard.

    Returns:
        `(inputs, targets, weights)`, each (batch_size, L) arrays (int32, int32,
        float32).
    """
    ids = np.asarray(ids, dtype=np.int32)
    n = len(ids) - 1
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if n < batch_size:
        raise ConfigError(f"a stream of {n} tokens is too short for {batch_size} rows")
    length = math.ceil(n / batch_size) if keep_tail else n // batch_size
    total = length * batch_size
    inputs = np.zeros(total, np.int32)
    targets = np.zeros(total, np.int32)
    weights = np.zeros(total, np.float32)
    used = min(n, total)
    inputs[:used] = ids[:used]
    targets[:used] = ids[1:used + 1]
    weights[:used] = 1.0
    shape = (batch_size, length)
    return inputs.reshape(shape), targets.reshape(shape), weights.reshape(shape)


def num_windows(length, bptt):
    """How many windows of `bptt` steps cover a row of `length` (the last may be shorter)."""
    return math.ceil(length / bptt)


def stream_windows(ids, batch_size, bptt, *, keep_tail=False):
    """A `tf.data.Dataset` of consecutive BPTT windows over a stream.

    Element k is `(inputs, targets, weights)`, each (batch_size, <= bptt), holding
    steps [k*bptt, (k+1)*bptt) of every row, in order: no shuffling, since the
    model's state flows from window k into window k+1. One pass is one epoch.

    Args:
        ids: the stream with a leading end-of-sentence id (see `stream_arrays`).
        batch_size: number of rows.
        bptt: steps per window.
        keep_tail: see `stream_arrays` (True for evaluation).

    Returns:
        `(dataset, steps)`: the dataset and its number of windows.
    """
    import tensorflow as tf

    if bptt < 1:
        raise ConfigError(f"bptt must be >= 1, got {bptt}")
    inputs, targets, weights = stream_arrays(ids, batch_size, keep_tail=keep_tail)
    length = inputs.shape[1]
    steps = num_windows(length, bptt)
    arrays = tuple(tf.constant(a) for a in (inputs, targets, weights))

    def window(k):
        start = tf.cast(k, tf.int32) * bptt
        end = tf.minimum(start + bptt, length)
        return tuple(a[:, start:end] for a in arrays)

    dataset = tf.data.Dataset.range(steps).map(window, num_parallel_calls=1, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE), steps
