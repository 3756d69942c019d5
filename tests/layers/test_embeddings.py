import keras
import numpy as np
import pytest
import tensorflow as tf

from nlpseq.errors import ConfigError, InputError
from nlpseq.layers import (
    NUM_CASING_CLASSES,
    CasingEmbedding,
    CharBiLSTMEmbedding,
    CharCNNEmbedding,
    SubwordPooledEmbedding,
    WordEmbedding,
)
from tests.helpers import run_layer_test

# Two sentences; the second has 2 words, then padding words of all-zero chars.
CHARS = np.array(
    [
        [[3, 4, 5, 0], [6, 0, 0, 0], [7, 8, 9, 2]],
        [[2, 2, 0, 0], [9, 1, 0, 0], [0, 0, 0, 0]],
    ],
    dtype="int32",
)


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


class MaskEcho(keras.layers.Layer):
    """Returns the Keras mask it receives, as float."""

    def call(self, inputs, mask=None):
        return keras.ops.cast(mask, "float32")

    def compute_mask(self, inputs, mask=None):
        return None


# WordEmbedding


def test_word_embedding_round_trip_and_mask():
    ids = np.array([[1, 5, 0], [7, 0, 0]], dtype="int32")
    layer, _ = run_layer_test(WordEmbedding, {"vocab_size": 10, "dim": 4}, ids, (2, 3, 4))
    np.testing.assert_array_equal(_numpy(layer.compute_mask(ids)), ids != 0)
    assert WordEmbedding(10, 4, mask_zero=False).compute_mask(ids) is None


def test_word_embedding_set_pretrained_and_frozen():
    matrix = np.arange(40, dtype="float32").reshape(10, 4)
    layer = WordEmbedding(10, 4, trainable_embeddings=False)
    layer.build((None, None))
    layer.set_pretrained(matrix)
    np.testing.assert_array_equal(_numpy(layer(np.array([[3, 0]]))), matrix[[3, 0]][None])
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 1
    assert len(WordEmbedding(10, 4).trainable_weights) == 0  # not built yet
    trainable = WordEmbedding(10, 4)
    trainable.build((None, None))
    assert len(trainable.trainable_weights) == 1
    with pytest.raises(InputError):
        layer.set_pretrained(np.zeros((9, 4)))


def test_word_embedding_pretrained_survives_keras_save(tmp_path):
    matrix = np.random.default_rng(0).normal(size=(10, 4)).astype("float32")
    inputs = keras.Input((None,), dtype="int32")
    layer = WordEmbedding(10, 4, trainable_embeddings=False, name="words")
    model = keras.Model(inputs, layer(inputs))
    layer.set_pretrained(matrix)
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(_numpy(reloaded.get_layer("words").embeddings), matrix)
    assert reloaded.get_layer("words").trainable_weights == []


# Character features


def test_char_cnn_shape_round_trip_and_padding_words():
    layer, out = run_layer_test(
        CharCNNEmbedding,
        {"char_vocab_size": 12, "char_dim": 5, "filters": 6, "kernel_size": 3},
        CHARS,
        (2, 3, 6),
    )
    out = _numpy(out)
    np.testing.assert_array_equal(out[1, 2], np.zeros(6))
    assert np.abs(out[0]).min(axis=-1).max() > 0
    np.testing.assert_array_equal(_numpy(layer.compute_mask(CHARS)), [[1, 1, 1], [1, 1, 0]])


def test_char_cnn_ignores_extra_char_padding():
    # Max-pooling only over real chars: more right padding changes nothing.
    layer = CharCNNEmbedding(12, char_dim=5, filters=6, kernel_size=3)
    wide = np.concatenate([CHARS, np.zeros((2, 3, 3), "int32")], axis=-1)
    np.testing.assert_allclose(_numpy(layer(CHARS)), _numpy(layer(wide)), atol=1e-6)


@pytest.mark.parametrize("kernel_size", [2, 3, 4, 5])
def test_char_cnn_lookup_path_equals_the_convolution(kernel_size):
    # Inference (TF) sums per-tap table lookups at real chars; training convolves. Same numbers, any width.
    layer = CharCNNEmbedding(12, char_dim=5, filters=6, kernel_size=kernel_size)
    layer.build(CHARS.shape)
    layer.conv.bias.assign(np.linspace(-1, 1, 6).astype("float32"))
    convolved = _numpy(layer(CHARS, training=True))
    looked_up = _numpy(layer(CHARS, training=False))
    np.testing.assert_allclose(looked_up, convolved, atol=1e-5)
    assert np.abs(convolved).max() > 1e-2
    graph = tf.function(lambda c: layer(c, training=False),
                        input_signature=[tf.TensorSpec((None, None, None), tf.int32)])
    np.testing.assert_allclose(_numpy(graph(CHARS)), convolved, atol=1e-5)
    # A batch with no characters at all (only padding words) gives zeros, not the lowest float.
    np.testing.assert_array_equal(_numpy(graph(np.zeros((2, 3, 1), "int32"))), np.zeros((2, 3, 6)))


def test_char_bilstm_shape_round_trip_and_padding_words():
    layer, out = run_layer_test(
        CharBiLSTMEmbedding, {"char_vocab_size": 12, "char_dim": 5, "units": 3}, CHARS, (2, 3, 6)
    )
    out = _numpy(out)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[1, 2], np.zeros(6))
    assert np.abs(out[1, 1]).max() > 0
    np.testing.assert_array_equal(_numpy(layer.compute_mask(CHARS)), [[1, 1, 1], [1, 1, 0]])


def test_char_bilstm_final_states_ignore_extra_char_padding_and_have_gradients():
    layer = CharBiLSTMEmbedding(12, char_dim=5, units=3)
    wide = np.concatenate([CHARS, np.zeros((2, 3, 2), "int32")], axis=-1)
    np.testing.assert_allclose(_numpy(layer(CHARS)), _numpy(layer(wide)), atol=1e-6)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(CHARS) ** 2)
    grads = tape.gradient(loss, layer.trainable_weights)
    assert all(np.all(np.isfinite(g.numpy() if hasattr(g, "numpy") else g.values)) for g in grads)


def test_char_layers_work_with_dynamic_shapes_in_a_graph():
    cnn = CharCNNEmbedding(12, char_dim=4, filters=5)
    lstm = CharBiLSTMEmbedding(12, char_dim=4, units=2)

    @tf.function(input_signature=[tf.TensorSpec((None, None, None), tf.int32)])
    def both(chars):
        return cnn(chars), lstm(chars)

    a, b = both(CHARS)
    assert a.shape == (2, 3, 5) and b.shape == (2, 3, 4)
    a, b = both(CHARS[:1, :2, :3])
    assert a.shape == (1, 2, 5) and b.shape == (1, 2, 4)


# Subword pooling

PIECES = np.array([[5, 6, 7, 8, 0], [9, 3, 4, 0, 0]], dtype="int32")
WORD_INDEX = np.array([[0, 0, 1, 2, -1], [0, 2, 2, -1, -1]], dtype="int32")
WORDS = np.array([[1, 1, 1, 0], [1, 1, 1, 0]], dtype="int32")  # T = 4


def _reference_pool(vectors, word_index, num_words, mode):
    try:
        from nlpseq.tokenizers.sentencepiece import pool_to_words
    except ImportError:
        pool_to_words = None
    if pool_to_words is not None:
        return pool_to_words(vectors, word_index, num_words, mode)
    out = np.zeros((num_words, vectors.shape[1]))
    for w in range(num_words):
        rows = [p for p, i in enumerate(word_index) if i == w]
        if rows:
            out[w] = vectors[rows[0]] if mode == "first" else vectors[rows].mean(axis=0)
    return out


@pytest.mark.parametrize("mode", ["first", "mean"])
def test_subword_pooling_matches_reference(mode):
    layer, out = run_layer_test(
        SubwordPooledEmbedding,
        {"vocab_size": 12, "dim": 3, "mode": mode},
        [PIECES, WORD_INDEX, WORDS],
        (2, 4, 3),
    )
    table = _numpy(layer.embedding.embeddings)
    for b in range(2):
        expected = _reference_pool(table[PIECES[b]], WORD_INDEX[b], 4, mode)
        np.testing.assert_allclose(_numpy(out)[b], expected, atol=1e-6)
    # Word 1 of the second sentence has no piece; word 3 is padding.
    np.testing.assert_array_equal(
        _numpy(layer.compute_mask([PIECES, WORD_INDEX, WORDS])), [[1, 1, 1, 0], [1, 0, 1, 0]]
    )


def test_subword_pooling_modes_differ_and_num_words_argument():
    first = SubwordPooledEmbedding(12, 3, mode="first")
    out_first = _numpy(first([PIECES, WORD_INDEX], num_words=4))
    mean = SubwordPooledEmbedding(12, 3, mode="mean")
    mean([PIECES, WORD_INDEX], num_words=4)
    mean.set_weights(first.get_weights())
    out_mean = _numpy(mean([PIECES, WORD_INDEX], num_words=4))
    assert out_first.shape == (2, 4, 3)
    assert not np.allclose(out_first[0, 0], out_mean[0, 0])  # word 0 has two pieces
    np.testing.assert_allclose(out_first[0, 1], out_mean[0, 1])  # word 1 has one


def test_subword_pooling_errors():
    with pytest.raises(ConfigError):
        SubwordPooledEmbedding(12, 3, mode="max")
    with pytest.raises(InputError):
        SubwordPooledEmbedding(12, 3)([PIECES, WORD_INDEX])


def test_subword_pooling_with_dynamic_word_count_in_a_graph():
    layer = SubwordPooledEmbedding(12, 3, mode="mean")
    spec = tf.TensorSpec((None, None), tf.int32)

    @tf.function(input_signature=[spec, spec, spec])
    def pool(pieces, index, words):
        return layer([pieces, index, words])

    assert pool(PIECES, WORD_INDEX, WORDS).shape == (2, 4, 3)
    assert pool(PIECES, WORD_INDEX, WORDS[:, :3]).shape == (2, 3, 3)


# Casing


def test_casing_embedding_round_trip_and_mask():
    ids = np.array([[4, 3, 5, 1], [1, 2, 0, 0]], "int32")
    layer, _ = run_layer_test(CasingEmbedding, {"dim": 3}, ids, (2, 4, 3))
    assert layer.weights[0].shape == (NUM_CASING_CLASSES, 3)
    inputs = keras.Input((None,), dtype="int32")
    model = keras.Model(inputs, MaskEcho()(CasingEmbedding(3)(inputs)))
    np.testing.assert_array_equal(_numpy(model(ids)), ids != 0)
