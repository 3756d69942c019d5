"""Tests for nlpseq.data.parallel (translation batches: teacher forcing, bucketing, seeded epochs)."""

import random

import numpy as np
import pytest
import tensorflow as tf

from nlpseq.data.parallel import (
    count_translation_batches,
    encode_pairs,
    padded_batches,
    pair_lengths,
    translation_dataset,
    translation_epochs,
)
from nlpseq.errors import ConfigError, InputError
from nlpseq.tokenizers.text_encoder import TextEncoder

BOS, EOS = 2, 3


def _corpus(n=60, seed=0):
    """Pairs whose source starts with a unique id 100 + i, so batches can be traced back to pairs."""
    rng = random.Random(seed)
    sources, targets = [], []
    for i in range(n):
        sources.append([100 + i] + [rng.randrange(4, 99) for _ in range(rng.randrange(0, 14))] + [EOS])
        targets.append([rng.randrange(4, 99) for _ in range(rng.randrange(1, 16))])
    return sources, targets


def _unpad(row):
    row = list(row)
    return row[:len(row) - next((k for k, v in enumerate(reversed(row)) if v != 0), len(row))]


def _batches(ds):
    return [(x["source"], x["target_in"], y) for x, y in ds.as_numpy_iterator()]


def _examples(batches):
    """(source, target_in, target_out) per pair, without padding, in batch order."""
    return [
        (_unpad(s), _unpad(ti), _unpad(to))
        for src, t_in, t_out in batches for s, ti, to in zip(src, t_in, t_out)
    ]


def _dataset(sources, targets, **options):
    options = {"bos_id": BOS, "eos_id": EOS, "batch_size": 8, "bucket_width": 4, "max_length": 16, **options}
    return translation_dataset(sources, targets, **options)


def test_encode_pairs_appends_eos_to_sources_only():
    en = TextEncoder.build(["a man runs", "two dogs"], kind="word")
    de = TextEncoder.build(["ein mann rennt", "zwei hunde"], kind="word")
    sources, targets = encode_pairs([("a man runs", "ein mann rennt"), ("two dogs", "zwei hunde")], en, de)
    assert sources == [en.encode("a man runs") + [en.eos_id], en.encode("two dogs") + [en.eos_id]]
    assert targets == [de.encode("ein mann rennt"), de.encode("zwei hunde")]
    assert all(de.bos_id not in t and de.eos_id not in t for t in targets)
    assert de.unk_id not in targets[0] and en.unk_id not in sources[0]


def test_teacher_forcing_shift_and_alignment():
    sources, targets = _corpus()
    examples = _examples(_batches(_dataset(sources, targets, seed=1)))
    # Every pair exactly once per epoch, with its own target (bucketing must not mix pairs up).
    assert sorted(s[0] for s, _, _ in examples) == [100 + i for i in range(len(sources))]
    for source, target_in, target_out in examples:
        i = source[0] - 100
        assert source == sources[i]
        assert target_in == [BOS] + targets[i]
        assert target_out == targets[i] + [EOS]


def test_batch_structure_dtypes_and_zero_padding():
    sources, targets = _corpus()
    for (inputs, target_out) in _dataset(sources, targets, seed=0).take(3):
        assert set(inputs) == {"source", "target_in"}
        assert inputs["source"].dtype == inputs["target_in"].dtype == target_out.dtype == tf.int32
        assert inputs["target_in"].shape == target_out.shape
        source, t_in, t_out = inputs["source"].numpy(), inputs["target_in"].numpy(), target_out.numpy()
        assert source.shape[0] == t_in.shape[0] <= 8
        # Padding is 0 and only at the end: the mask is `!= 0`, the real lengths are the nonzero counts.
        for row in list(source) + list(t_in):
            n = np.count_nonzero(row)
            assert np.all(row[:n] != 0) and np.all(row[n:] == 0)
        np.testing.assert_array_equal(t_in != 0, t_out != 0)
        # The longest row fills the padded width: no extra padding column.
        assert (source != 0).sum(1).max() == source.shape[1]
        assert (t_out != 0).sum(1).max() == t_out.shape[1]


def test_batches_hold_pairs_of_one_length_bucket():
    sources, targets = _corpus()
    lengths = dict(zip((s[0] for s in sources), pair_lengths(sources, targets)))
    boundaries = [5, 9, 13]  # bucket_width 4 up to max_length 16
    batches = _batches(_dataset(sources, targets, seed=3, bucket_width=4, max_length=16))
    for src, _, t_out in batches:
        batch_lengths = [lengths[row[0]] for row in src]
        assert len(set(np.searchsorted(boundaries, batch_lengths, side="right"))) == 1, batch_lengths
        # Padded to the batch's own longest sequence, not to a bucket boundary.
        assert max(src.shape[1], t_out.shape[1]) == max(batch_lengths)
    assert len({np.searchsorted(boundaries, lengths[b[0][0][0]], side="right") for b in batches}) > 1


def test_pair_lengths_take_the_longer_side():
    assert pair_lengths([[5, 6, EOS], [5, EOS]], [[7], [7, 8, 9, 10]]) == [3, 5]


@pytest.mark.parametrize("drop_remainder", [False, True])
@pytest.mark.parametrize("batch_size", [1, 5, 8])
def test_count_matches_the_batches_yielded(batch_size, drop_remainder):
    sources, targets = _corpus()
    options = {"batch_size": batch_size, "bucket_width": 4, "max_length": 16, "drop_remainder": drop_remainder}
    batches = _batches(_dataset(sources, targets, seed=2, **options))
    assert len(batches) == count_translation_batches(sources, targets, **options)
    if drop_remainder:
        assert all(len(b[0]) == batch_size for b in batches)


def test_same_seed_and_epoch_give_the_same_batches_whatever_the_global_seed():
    sources, targets = _corpus()
    tf.random.set_seed(1)
    first = _examples(_batches(_dataset(sources, targets, seed=7, epoch=3)))
    tf.random.set_seed(12345)
    second = _examples(_batches(_dataset(sources, targets, seed=7, epoch=3)))
    assert first == second


def test_epoch_and_seed_change_the_order():
    sources, targets = _corpus()
    order = lambda **kw: [s[0] for s, _, _ in _examples(_batches(_dataset(sources, targets, **kw)))]  # noqa: E731
    base = order(seed=7, epoch=0)
    assert order(seed=7, epoch=1) != base
    assert order(seed=8, epoch=0) != base
    assert sorted(order(seed=7, epoch=1)) == sorted(base)


def test_epochs_stream_is_the_concatenation_of_single_epochs():
    sources, targets = _corpus(n=30)
    options = {"bos_id": BOS, "eos_id": EOS, "bucket_width": 4, "max_length": 16, "seed": 5}
    stream = _batches(translation_epochs(sources, targets, 1, 3, 8, **options))
    singles = [b for epoch in (1, 2) for b in _batches(translation_dataset(sources, targets, batch_size=8,
                                                                            epoch=epoch, **options))]
    assert len(stream) == len(singles) == 2 * count_translation_batches(sources, targets, 8, bucket_width=4,
                                                                        max_length=16)
    for a, b in zip(stream, singles):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_max_batches_cuts_every_epoch():
    sources, targets = _corpus()
    options = {"bos_id": BOS, "eos_id": EOS, "bucket_width": 4, "max_length": 16, "seed": 5, "max_batches": 2}
    stream = _batches(translation_epochs(sources, targets, 0, 3, 4, **options))
    assert len(stream) == 6
    epoch1 = _batches(translation_dataset(sources, targets, batch_size=4, epoch=1, **options))
    np.testing.assert_array_equal(stream[2][0], epoch1[0][0])


def test_unshuffled_reads_in_corpus_order():
    sources, targets = _corpus(n=20)
    # One bucket wide enough for everything: batches are then consecutive corpus slices.
    batches = _batches(_dataset(sources, targets, shuffle=False, batch_size=6, bucket_width=64, max_length=64))
    assert [s[0] for s, _, _ in _examples(batches)] == [100 + i for i in range(20)]
    assert [len(b[0]) for b in batches] == [6, 6, 6, 2]


def test_padded_batches_keep_input_order():
    sources = [[5, EOS], [6, 7, 8, EOS], [9, EOS], [10, 11, EOS], [12, EOS]]
    batches = list(padded_batches(sources, 2).as_numpy_iterator())
    assert [set(b) for b in batches] == [{"source"}] * 3
    assert batches[0]["source"].tolist() == [[5, EOS, 0, 0], [6, 7, 8, EOS]]
    assert batches[0]["source"].dtype == np.int32
    assert [_unpad(row) for b in batches for row in b["source"]] == sources


def test_errors():
    sources, targets = _corpus(n=4)
    with pytest.raises(InputError, match="4 sources but 3 targets"):
        _dataset(sources, targets[:3])
    with pytest.raises(InputError, match="no sentence pairs"):
        translation_epochs([], [], 0, 1, 8, bos_id=BOS, eos_id=EOS)
    with pytest.raises(ConfigError, match="batch_size"):
        _dataset(sources, targets, batch_size=0)
    with pytest.raises(ConfigError, match="bucket_width"):
        count_translation_batches(sources, targets, 8, bucket_width=0)
    with pytest.raises(InputError):
        padded_batches([], 2)
