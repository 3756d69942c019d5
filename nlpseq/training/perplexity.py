"""Perplexity of a language model over a whole token stream (the standard PTB protocol)."""

import math
import weakref

import keras
import numpy as np

from nlpseq.data.lm_stream import stream_arrays

_SCORERS = weakref.WeakKeyDictionary()


def _window_scorer(model):
    """`(inputs, targets, weights, states) -> (nll sum, states)`, compiled once per model on TensorFlow."""

    def score(inputs, targets, weights, states):
        logits, states = model.forward(inputs, list(states), training=False)
        nll = keras.ops.sparse_categorical_crossentropy(targets, keras.ops.cast(logits, "float32"),
                                                        from_logits=True)
        return keras.ops.sum(nll * weights), states

    if keras.backend.backend() != "tensorflow":
        return score  # eager elsewhere: slower, same numbers
    if model not in _SCORERS:
        import tensorflow as tf

        ids = tf.TensorSpec([None, None], tf.int32)
        state_specs = [tf.TensorSpec([None, size], tf.float32) for size in model.state_sizes]
        _SCORERS[model] = tf.function(score, input_signature=[ids, ids, tf.TensorSpec([None, None], tf.float32),
                                                               state_specs])
    return _SCORERS[model]


def stream_log_likelihood(model, ids, batch_size=10, bptt=35):
    """Total negative log-likelihood of every token of a stream, state carried throughout.

    The stream is cut into `batch_size` contiguous rows (the last one padded,
    padding not scored), and each row is read in windows of `bptt` steps with
    the state carried across windows, so each row's tokens are scored with
    the full left context of that row.

    Args:
        model: an `RNNLanguageModel`.
        ids: the stream of ids with a leading end-of-sentence id (every later
            id is a target once).
        batch_size: rows scored in parallel (1 gives every token the whole
            preceding stream as context; 10 is the usual compromise).
        bptt: window length (only affects speed).

    Returns:
        `(nll, tokens)`: the summed negative log-likelihood in nats and the
        number of tokens scored.
    """
    batch_size = max(1, min(batch_size, len(ids) - 1))
    inputs, targets, weights = stream_arrays(ids, batch_size, keep_tail=True)
    scorer = _window_scorer(model)
    states = [np.zeros((batch_size, size), np.float32) for size in model.state_sizes]
    total = 0.0
    for start in range(0, inputs.shape[1], bptt):
        cut = slice(start, start + bptt)
        nll, states = scorer(inputs[:, cut], targets[:, cut], weights[:, cut], states)
        total += float(nll)
    return total, int(weights.sum())


def perplexity(nll, tokens):
    """exp(nll / tokens), the per-token perplexity (inf for an overflow, nan for no tokens)."""
    if tokens == 0:
        return float("nan")
    mean = nll / tokens
    return math.exp(mean) if mean < 700 else float("inf")
