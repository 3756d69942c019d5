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
    """Packs a list of numpy arrays (T_i, ...) into a RaggedTensor (N, None, ...)."""
    lengths = [len(a) for a in arrays]
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


def count_bucketed_batches(lengths, batch_size, *, bucket_width=5, max_length=200):
    """The number of batches `bucketed_batches` yields for sentences of these lengths.

    Knowing it up front gives Keras a progress bar with a total and a clean end of epoch.
    """
    buckets = np.searchsorted(np.asarray(_boundaries(bucket_width, max_length)), np.asarray(lengths), side="right")
    return int(sum(-(-count // batch_size) for count in np.bincount(buckets)))


def bucketed_batches(dataset, batch_size, *, bucket_width=5, max_length=200, shuffle_seed=None,
                     shuffle_buffer=20000, unk_replace=0.0, singleton_ids=None, unk_seed=0, num_batches=None):
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
        singleton_ids: int array of the word ids that occur once in training.
        unk_seed: seed of the unknown-word replacement of this epoch.
        num_batches: if given (see `count_bucketed_batches`), declared as the
            dataset's cardinality.

    Returns:
        A batched `tf.data.Dataset`.
    """
    if shuffle_seed is not None:
        dataset = dataset.shuffle(shuffle_buffer, seed=shuffle_seed, reshuffle_each_iteration=False)
    if unk_replace and singleton_ids is not None and len(singleton_ids):
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(np.asarray(singleton_ids), tf.int32),
                tf.ones(len(singleton_ids), tf.int32)), 0)
        seed = tf.constant([unk_seed, 7], tf.int64)

        def drop_singletons(index, element):
            inputs, target = element
            words = inputs["words"]
            # Stateless randomness keyed by (epoch seed, sentence index): reproducible on resume.
            noise = tf.random.stateless_uniform(tf.shape(words), seed=seed + tf.stack([0, index]))
            replace = tf.logical_and(tf.equal(table.lookup(words), 1), noise < unk_replace)
            inputs = dict(inputs, words=tf.where(replace, tf.ones_like(words), words))
            return inputs, target

        dataset = dataset.enumerate().map(drop_singletons, num_parallel_calls=tf.data.AUTOTUNE)
    boundaries = _boundaries(bucket_width, max_length)
    dataset = dataset.bucket_by_sequence_length(
        _length, boundaries, [batch_size] * (len(boundaries) + 1), drop_remainder=False
    )
    if num_batches is not None:
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(num_batches))
    return dataset.prefetch(tf.data.AUTOTUNE)


def padded_batches(dataset, batch_size):
    """Batches in corpus order with padding (for prediction where order matters)."""
    return dataset.padded_batch(batch_size).prefetch(tf.data.AUTOTUNE)
