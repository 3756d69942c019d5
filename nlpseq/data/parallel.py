"""tf.data pipelines for translation: encoded sentence pairs → shuffled, length-bucketed, padded batches.

Each training batch is ``({"source": [B, S], "target_in": [B, T]}, target_out
[B, T])``, all int32 and padded with 0 (which is also the mask):

- ``source``: the source ids followed by the source end-of-sentence id;
- ``target_in``: the decoder inputs, ``[bos] + target ids``;
- ``target_out``: what the decoder must predict at each step, ``target ids +
  [eos]`` (teacher forcing: the inputs shifted by one).

The encoded corpus is packed into flat id tensors once. Each epoch reads it in
a permutation drawn by a stateless shuffle keyed by ``(seed, epoch)``, so a
run resumed at epoch k sees exactly the batches an uninterrupted run saw, and
neither TensorFlow's global seed nor earlier epochs can change the order. Pairs
are bucketed by the longer of source and decoder sequence, as
`nlpseq.data.pipelines` buckets tagged sentences, and the number of batches
per epoch comes from the same `count_bucketed_batches`.
"""

from collections import namedtuple

import numpy as np
import tensorflow as tf

from nlpseq.checks import is_whole_number
from nlpseq.data import pipelines
from nlpseq.errors import ConfigError, InputError

# Sentences of one side of the corpus as one flat id tensor and the row offsets into it.
_Packed = namedtuple("_Packed", ["values", "splits"])


def encode_pairs(pairs, source_encoder, target_encoder):
    """Encodes sentence pairs to ids.

    Args:
        pairs: list of `(source, target)` strings.
        source_encoder: a `TextEncoder` for the source language.
        target_encoder: a `TextEncoder` for the target language.

    Returns:
        `(sources, targets)`, lists of int lists: each source ends with the
        source encoder's `eos_id` (so the encoder sees where the sentence
        stops); the targets are the plain ids, since the pipeline adds the
        begin and end ids on the two sides of teacher forcing.
    """
    eos = source_encoder.eos_id
    sources = [source_encoder.encode(source) + [eos] for source, _ in pairs]
    targets = [target_encoder.encode(target) for _, target in pairs]
    return sources, targets


def pair_lengths(sources, targets):
    """The bucketing length of each pair: the longer of the source and the decoder sequence.

    Args:
        sources: list of source id lists (with their end id).
        targets: list of target id lists (without specials).

    Returns:
        list of ints, `max(len(source), len(target) + 1)` per pair.
    """
    _check_corpus(sources, targets)
    return [max(len(s), len(t) + 1) for s, t in zip(sources, targets)]


def count_translation_batches(sources, targets, batch_size, *, bucket_width=5, max_length=200,
                              drop_remainder=False):
    """The number of batches in one epoch of `translation_dataset` (any seed and epoch).

    Training passes it to `fit` as `steps_per_epoch`, so the progress bar has a
    total and each epoch ends exactly at the end of its batches.

    Args:
        sources, targets: from `encode_pairs`.
        batch_size, bucket_width, max_length, drop_remainder: as for `translation_dataset`.

    Returns:
        The number of batches as an int.
    """
    _check_batching(batch_size, bucket_width, max_length)
    return pipelines.count_bucketed_batches(
        pair_lengths(sources, targets), batch_size, bucket_width=bucket_width, max_length=max_length,
        drop_remainder=drop_remainder,
    )


def translation_dataset(sources, targets, *, bos_id, eos_id, batch_size, bucket_width=5, max_length=200,
                        seed=0, epoch=0, shuffle=True, max_batches=None, drop_remainder=False):
    """The batches of one epoch: shuffled for (seed, epoch), bucketed by length, padded with 0.

    Args:
        sources, targets: from `encode_pairs`.
        bos_id: the target begin-of-sentence id (first decoder input).
        eos_id: the target end-of-sentence id (last decoder output).
        batch_size: pairs per batch.
        bucket_width: bucket boundaries every this many ids (1..max_length).
        max_length: the last bucket boundary; longer pairs share one bucket.
        seed: the run's seed.
        epoch: the 0-based epoch; with `seed` it fixes the order.
        shuffle: False reads the pairs in corpus order before bucketing (for
            evaluation losses).
        max_batches: cut the epoch to this many batches (quick runs).
        drop_remainder: drop each bucket's last, smaller batch (so batches
            split evenly over the replicas of a distribution strategy).

    Returns:
        A `tf.data.Dataset` of `({"source", "target_in"}, target_out)` batches.
    """
    if shuffle:
        return translation_epochs(
            sources, targets, epoch, epoch + 1, batch_size, bos_id=bos_id, eos_id=eos_id, seed=seed,
            max_batches=max_batches, bucket_width=bucket_width, max_length=max_length,
            drop_remainder=drop_remainder,
        )
    _check_batching(batch_size, bucket_width, max_length)
    packed = _pack_corpus(sources, targets)
    order = tf.range(len(sources), dtype=tf.int64)
    batches = _bucketed(packed, order, bos_id, eos_id, batch_size, bucket_width, max_length, drop_remainder)
    return _take(batches, max_batches).prefetch(tf.data.AUTOTUNE)


def translation_epochs(sources, targets, first_epoch, last_epoch, batch_size, *, bos_id, eos_id, seed=0,
                       max_batches=None, bucket_width=5, max_length=200, drop_remainder=False):
    """One stream of batches for epochs `first_epoch` .. `last_epoch - 1`, for a single `fit` call.

    Epoch k of the stream is exactly `translation_dataset(..., seed=seed,
    epoch=k)`, so a run resumed at epoch k continues with the batches an
    uninterrupted run would have seen.

    Args:
        sources, targets: from `encode_pairs`.
        first_epoch: the first epoch to produce (0-based).
        last_epoch: one past the last epoch.
        batch_size: pairs per batch.
        bos_id, eos_id: the target begin and end ids.
        seed: the run's seed.
        max_batches: cut every epoch to this many batches.
        bucket_width, max_length, drop_remainder: as for `translation_dataset`.

    Returns:
        A `tf.data.Dataset`; pass `count_translation_batches` (or `max_batches`
        if smaller) to `fit` as `steps_per_epoch`.
    """
    _check_batching(batch_size, bucket_width, max_length)
    packed = _pack_corpus(sources, targets)
    n = len(sources)

    def one_epoch(epoch):
        order = _epoch_order(n, seed, epoch)
        batches = _bucketed(packed, order, bos_id, eos_id, batch_size, bucket_width, max_length, drop_remainder)
        return _take(batches, max_batches)

    epochs = tf.data.Dataset.range(first_epoch, last_epoch)
    return epochs.flat_map(one_epoch).prefetch(tf.data.AUTOTUNE)


def padded_batches(sources, batch_size):
    """Source batches in corpus order for translating (decoding) a corpus.

    Args:
        sources: list of source id lists (with their end id), e.g. from `encode_pairs`.
        batch_size: sentences per batch.

    Returns:
        A `tf.data.Dataset` of `{"source": int32 [B, S]}`, padded with 0; the
        batches follow `sources` in order, so outputs line up with the input.
    """
    if not sources:
        raise InputError("no source sentences to batch")
    _check_batch_size(batch_size)
    packed = _pack(sources)
    rows = tf.data.Dataset.range(len(sources)).map(lambda i: {"source": _row(packed, i)})
    return pipelines.padded_batches(rows, batch_size)


# --- helpers ------------------------------------------------------------------------


def _check_corpus(sources, targets):
    if len(sources) != len(targets):
        raise InputError(f"{len(sources):,} sources but {len(targets):,} targets: the pairs must be aligned")
    if not sources:
        raise InputError("no sentence pairs")


def _check_batch_size(batch_size):
    if not is_whole_number(batch_size):
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")


def _check_batching(batch_size, bucket_width, max_length):
    _check_batch_size(batch_size)
    if not 1 <= bucket_width <= max_length:
        raise ConfigError(f"bucket_width must be in 1..max_length ({max_length}), got {bucket_width}")


def _pack(rows):
    lengths = np.fromiter((len(r) for r in rows), np.int64, len(rows))
    splits = np.concatenate([[0], np.cumsum(lengths)])
    values = np.fromiter((i for r in rows for i in r), np.int32, int(splits[-1]))
    return _Packed(tf.constant(values), tf.constant(splits))


def _pack_corpus(sources, targets):
    _check_corpus(sources, targets)
    return _pack(sources), _pack(targets)


def _row(packed, i):
    return packed.values[packed.splits[i]:packed.splits[i + 1]]


def _epoch_order(n, seed, epoch):
    # A stateless shuffle depends only on its seed pair: the same (seed, epoch)
    # gives the same permutation whatever ran before, which resuming relies on.
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)])
    return tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=key)


def _bucketed(packed, order, bos_id, eos_id, batch_size, bucket_width, max_length, drop_remainder):
    source_packed, target_packed = packed
    bos = tf.constant([bos_id], tf.int32)
    eos = tf.constant([eos_id], tf.int32)

    def example(i):
        target = _row(target_packed, i)
        inputs = {"source": _row(source_packed, i), "target_in": tf.concat([bos, target], 0)}
        return inputs, tf.concat([target, eos], 0)

    def length(inputs, target_out):
        return tf.maximum(tf.shape(inputs["source"])[0], tf.shape(target_out)[0])

    boundaries = pipelines._boundaries(bucket_width, max_length)
    examples = tf.data.Dataset.from_tensor_slices(order).map(example, num_parallel_calls=tf.data.AUTOTUNE)
    return examples.bucket_by_sequence_length(
        length, boundaries, [batch_size] * (len(boundaries) + 1), drop_remainder=drop_remainder
    )


def _take(batches, max_batches):
    return batches.take(max_batches) if max_batches else batches
