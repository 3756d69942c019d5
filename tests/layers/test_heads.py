import keras
import numpy as np
import pytest

from nlpseq.layers import TagHead, masked_softmax_cross_entropy
from tests.helpers import run_layer_test

X = np.random.default_rng(0).normal(size=(2, 4, 6)).astype("float32")


def test_tag_head_round_trip_and_shape():
    run_layer_test(TagHead, {"num_tags": 5, "dropout": 0.5}, X, (2, 4, 5))


def test_tag_head_dropout_only_in_training_and_mask_propagates():
    head = TagHead(5, dropout=0.5)
    a = keras.ops.convert_to_numpy(head(X, training=False))
    np.testing.assert_allclose(a, keras.ops.convert_to_numpy(head(X)))
    assert not np.allclose(a, keras.ops.convert_to_numpy(head(X, training=True)))
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(head.compute_mask(X, mask)), mask)


def _reference_loss(logits, tags, mask):
    total, count = 0.0, 0
    for b, t in zip(*np.nonzero(mask)):
        z = logits[b, t].astype(np.float64)
        total += np.log(np.exp(z - z.max()).sum()) + z.max() - z[tags[b, t]]
        count += 1
    return total / max(count, 1)


def test_masked_softmax_cross_entropy_matches_reference():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 4, 3)).astype("float32")
    tags = np.array([[0, 2, -1, -1], [1, 1, 0, 2]], "int32")
    mask = tags >= 0
    got = float(masked_softmax_cross_entropy(logits, tags, mask))
    assert got == pytest.approx(_reference_loss(logits, tags, mask), abs=1e-5)
    # Mean over tokens, not over sequences: changing masked logits changes nothing.
    logits2 = logits.copy()
    logits2[0, 2:] = 50.0
    assert float(masked_softmax_cross_entropy(logits2, tags, mask)) == pytest.approx(got, abs=1e-6)
    full = np.ones_like(mask)
    assert float(masked_softmax_cross_entropy(logits, np.abs(tags), None)) == pytest.approx(
        _reference_loss(logits, np.abs(tags), full), abs=1e-5
    )
    assert float(masked_softmax_cross_entropy(logits, tags, np.zeros_like(mask))) == 0.0
