"""tf.data pipelines: encoded sentences → shuffled, length-bucketed, padded batches.

The encoded corpus is packed into ragged tensors once and cached; each epoch
then gets its own seeded shuffle (so a resumed run sees the same order as an
uninterrupted one), optional unknown-word dropout, length bucketing with
padding (0 everywhere, which is also the mask) and prefetching. The batches are
(inputs dict, tags) pairs that `keras.Model.fit` accepts on the TensorFlow and
JAX backends.
"""

import numpy as np
import tensorflow as tf


def _ragged(arrays, dtype=tf.int32):
    """Packs a list of numpy arrays (T_i, ...) into a RaggedTensor (N, None, ...).

    Integer (T, C) arrays (characters) are ragged in both dimensions, their
    zeros being padding; float (T, D) arrays (cached language-model states) are
    dense vectors and keep their width and dtype.
    """
    lengths = [len(a) for a in arrays]
    if arrays and np.issubdtype(arrays[0].dtype, np.floating):
        return tf.RaggedTensor.from_row_lengths(tf.constant(np.concatenate(arrays), tf.float32), lengths)
    if arrays and arrays[0].ndim == 2:
        # (T, C) per sentence: ragged over words and over characters.
        rows = [row for a in arrays for row in a]
        row_lengths = [int(np.count_nonzero(r)) or 1 for r in rows]
        flat = np.concatenate([r[:n] for r, n in zip(rows, row_lengths)]) if rows else np.zeros(0)
        inner = tf.RaggedTensor.from_row_lengths(tf.constant(flat, dtype), row_lengths)
        return tf.RaggedTensor.from_row_lengths(inner, lengths)
    flat = np.concatenate(arrays) if arrays else np.zeros(0)
    return tf.RaggedTensor.from_row_lengths(tf.constant(flat, dtype), lengths)


def encoded_dataset(examples, tags=None):
    """Makes an unbatched, cached dataset of encoded sentences.

    Args:
        examples: list of dicts of numpy arrays from `TaggingFeatures.encode`.
        tags: optional list of int arrays (T,) of tag ids.

    Returns:
        A `tf.data.Dataset` of (inputs dict, tags) or inputs dicts, one per
        sentence, with dense per-sentence tensors.
    """
    keys = sorted(examples[0]) if examples else ["words"]
    columns = {k: _ragged([e[k] for e in examples]) for k in keys}
    if tags is not None:
        columns["__tags__"] = _ragged(list(tags))
    ds = tf.data.Dataset.from_tensor_slices(columns)

    def densify(row):
        row = {k: (v.to_tensor() if isinstance(v, tf.RaggedTensor) else v) for k, v in row.items()}
        if "__tags__" in row:
            target = row.pop("__tags__")
            return row, target
        return row

    return ds.map(densify, num_parallel_calls=tf.data.AUTOTUNE).cache()


def _length(inputs, *targets):
    return tf.shape(inputs["words"])[0]


def _boundaries(bucket_width, max_length):
    return list(range(bucket_width + 1, max_length + 1, bucket_width))


def count_bucketed_batches(lengths, batch_size, *, bucket_width=5, max_length=200, drop_remainder=False):
    """The number of batches `bucketed_batches` yields for sentences of these lengths.

    Training passes it to `fit` as `steps_per_epoch`: the progress bar gets a
    total, and each epoch ends exactly at the end of its batches.
    """
    buckets = np.searchsorted(np.asarray(_boundaries(bucket_width, max_length)), np.asarray(lengths), side="right")
    counts = np.bincount(buckets)
    if drop_remainder:
        return int(sum(count // batch_size for count in counts))
    return int(sum(-(-count // batch_size) for count in counts))


def bucketed_batches(dataset, batch_size, *, bucket_width=5, max_length=200, shuffle_seed=None,
                     shuffle_buffer=20000, unk_replace=0.0, singleton_mask=None, unk_seed=0, drop_remainder=False):
    """Shuffles, buckets by length, pads and prefetches.

    Args:
        dataset: from `encoded_dataset`.
        batch_size: sentences per batch.
        bucket_width: bucket boundaries every this many words (1..max_length).
        max_length: the last bucket boundary; longer sentences share one bucket.
        shuffle_seed: None for no shuffling (evaluation), else the seed of this
            epoch's order.
        shuffle_buffer: shuffle buffer size (the whole corpus fits by default).
        unk_replace: probability of replacing a training singleton word by the
            unknown id 1, so the unknown-word embedding gets trained.
        singleton_mask: bool array over word ids, True for the words that
            occur once in training.
        unk_seed: seed of the unknown-word replacement of this epoch.
        drop_remainder: drop each bucket's last, smaller batch (so batches
            split evenly over the replicas of a distribution strategy).

    Returns:
        A batched `tf.data.Dataset`.
    """
    if shuffle_seed is not None:
        dataset = dataset.shuffle(shuffle_buffer, seed=shuffle_seed, reshuffle_each_iteration=False)
    if unk_replace and singleton_mask is not None and np.any(singleton_mask):
        is_singleton = tf.constant(np.asarray(singleton_mask, bool))
        seed = tf.stack([tf.cast(unk_seed, tf.int64), tf.constant(7, tf.int64)])

        def drop_singletons(index, element):
            inputs, target = element
            words = inputs["words"]
            # Stateless randomness keyed by (epoch seed, sentence index): reproducible on resume.
            noise = tf.random.stateless_uniform(tf.shape(words), seed=seed + tf.stack([tf.constant(0, tf.int64), index]))
            replace = tf.logical_and(tf.gather(is_singleton, words), noise < unk_replace)
            inputs = dict(inputs, words=tf.where(replace, tf.ones_like(words), words))
            return inputs, target

        dataset = dataset.enumerate().map(drop_singletons, num_parallel_calls=tf.data.AUTOTUNE)
    boundaries = _boundaries(bucket_width, max_length)
    dataset = dataset.bucket_by_sequence_length(
        _length, boundaries, [batch_size] * (len(boundaries) + 1), drop_remainder=drop_remainder
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def epoch_batches(dataset, first_epoch, last_epoch, batch_size, *, seed=0, max_batches=None, **options):
    """One stream of batches for epochs `first_epoch` .. `last_epoch - 1`, for a single `fit` call.

    Each epoch's shuffle and unknown-word noise are seeded by `seed * 1000 +
    epoch`, so a run resumed at epoch k sees exactly the batches an
    uninterrupted run saw from epoch k on.

    Args:
        dataset: from `encoded_dataset`.
        first_epoch: the first epoch to produce (0-based).
        last_epoch: one past the last epoch.
        batch_size: sentences per batch.
        seed: the run's seed.
        max_batches: cut every epoch to this many batches (quick runs).
        **options: passed to `bucketed_batches` (not the seeds).

    Returns:
        A `tf.data.Dataset`; pass `steps_per_epoch` to `fit`.
    """

    def one_epoch(epoch):
        epoch_seed = tf.cast(seed, tf.int64) * 1000 + epoch
        batches = bucketed_batches(dataset, batch_size, shuffle_seed=epoch_seed, unk_seed=epoch_seed, **options)
        return batches.take(max_batches) if max_batches else batches

    epochs = tf.data.Dataset.range(first_epoch, last_epoch)
    return epochs.flat_map(one_epoch).prefetch(tf.data.AUTOTUNE)


def padded_batches(dataset, batch_size):
    """Batches in corpus order with padding (for prediction where order matters)."""
    return dataset.padded_batch(batch_size).prefetch(tf.data.AUTOTUNE)
