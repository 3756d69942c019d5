import keras
import numpy as np
import pytest

from nlpseq.errors import ConfigError
from nlpseq.layers import RNNEncoder, cudnn_eligible
from tests.helpers import run_layer_test

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 5, 4)).astype("float32")
LENGTHS = np.array([5, 2, 0])
MASK = np.arange(5)[None, :] < LENGTHS[:, None]


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize(
    "kwargs,width",
    [
        ({"units": 3}, 6),
        ({"units": 3, "cell": "gru", "num_layers": 2, "dropout": 0.3}, 6),
        ({"units": 3, "cell": "simple", "bidirectional": False}, 3),
    ],
)
def test_round_trip_and_output_width(kwargs, width):
    run_layer_test(RNNEncoder, kwargs, X, (3, 5, width))


def test_return_state_shapes_and_round_trip():
    run_layer_test(
        RNNEncoder,
        {"units": 3, "return_state": True, "num_layers": 2},
        X,
        [(3, 5, 6), (3, 3), (3, 3), (3, 3), (3, 3)],
    )
    out, states = RNNEncoder(3, cell="gru", bidirectional=False, return_state=True)(X)
    assert out.shape == (3, 5, 3) and [s.shape for s in states] == [(3, 3)]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_default_encoder_rnns_are_cudnn_eligible(cell):
    encoder = RNNEncoder(4, cell=cell, num_layers=2)
    encoder(X)
    layers = encoder.recurrent_layers()
    assert len(layers) == 4
    assert all(cudnn_eligible(layer) for layer in layers)


def test_cudnn_eligible_rejects_each_breaking_setting():
    assert cudnn_eligible(keras.layers.LSTM(2)) and cudnn_eligible(keras.layers.GRU(2))
    for layer in [
        keras.layers.LSTM(2, activation="relu"),
        keras.layers.LSTM(2, recurrent_activation="hard_sigmoid"),
        keras.layers.LSTM(2, recurrent_dropout=0.1),
        keras.layers.LSTM(2, unroll=True),
        keras.layers.LSTM(2, use_bias=False),
        keras.layers.GRU(2, reset_after=False),
        keras.layers.SimpleRNN(2),
    ]:
        assert not cudnn_eligible(layer), layer.get_config()


def test_unknown_cell_and_bad_values_raise_config_error():
    with pytest.raises(ConfigError):
        RNNEncoder(4, cell="transformer")
    with pytest.raises(ConfigError):
        RNNEncoder(4, num_layers=0)
    with pytest.raises(ConfigError):
        RNNEncoder(4, dropout=1.5)


def test_mask_is_consumed_and_propagated():
    encoder = RNNEncoder(3, num_layers=2)
    out = _numpy(encoder(X, mask=MASK))
    assert np.all(np.isfinite(out))
    # Padding and the empty sequence give zeros; real steps do not.
    np.testing.assert_array_equal(out[1, 2:], 0)
    np.testing.assert_array_equal(out[2], 0)
    assert np.abs(out[1, :2]).min(axis=-1).min() > 0
    # Consumed: padding content does not leak into real steps (backward direction).
    noisy = X.copy()
    noisy[1, 2:] = 100.0
    np.testing.assert_allclose(_numpy(encoder(noisy, mask=MASK))[1, :2], out[1, :2], atol=1e-5)
    np.testing.assert_array_equal(_numpy(encoder.compute_mask(X, MASK)), MASK)

    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, 4, mask_zero=True)(inputs)
    y = RNNEncoder(3)(x)
    pooled = keras.layers.GlobalAveragePooling1D()(y)  # mask-aware mean
    model = keras.Model(inputs, [y, pooled])
    seq, mean = model(np.array([[1, 2, 0, 0]]))
    np.testing.assert_allclose(_numpy(mean)[0], _numpy(seq)[0, :2].mean(axis=0), atol=1e-6)


def test_dropout_only_in_training():
    encoder = RNNEncoder(3, dropout=0.5)
    a = _numpy(encoder(X, training=False))
    np.testing.assert_allclose(a, _numpy(encoder(X, training=False)))
    assert not np.allclose(a, _numpy(encoder(X, training=True)))
    assert not any(rnn.cell.recurrent_dropout for rnn in encoder.recurrent_layers())


def test_return_state_matches_last_valid_step():
    encoder = RNNEncoder(3, cell="gru", bidirectional=False, return_state=True)
    out, (h,) = encoder(X, mask=MASK)
    out, h = _numpy(out), _numpy(h)
    np.testing.assert_allclose(h[0], out[0, 4], atol=1e-6)
    np.testing.assert_allclose(h[1], out[1, 1], atol=1e-6)
    np.testing.assert_array_equal(h[2], 0)
