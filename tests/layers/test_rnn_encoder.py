import keras
import numpy as np
import pytest

from nlpseq.errors import ConfigError
from nlpseq.layers import RNNEncoder, cudnn_eligible
from nlpseq.layers.rnn_stack import RecurrentStack, VariationalDropout
from nlpseq.models.language_model import RNNLanguageModel
from nlpseq.models.seq2seq import Seq2SeqModel
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


# --- The fused CPU LSTM path (TensorFlow backend without a GPU) -------------------------------

_TF_ONLY = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="fused path is TensorFlow-only")


def _run_both(encoder, x, mask, monkeypatch, wrap=None):
    """Outputs (flattened) and gradients of inputs and weights, with the fused path off then on."""
    import tensorflow as tf

    from nlpseq.layers import rnn_encoder

    results = []
    for fused in (False, True):
        monkeypatch.setattr(rnn_encoder, "FUSED_CPU_LSTM", fused)

        def forward_backward(x, mask):
            with tf.GradientTape() as tape:
                tape.watch(x)
                flat = tf.nest.flatten(encoder(x, mask=mask, training=True))
                # A loss that weights every unit and step differently.
                loss = sum(tf.reduce_sum(a * tf.reshape(tf.sin(tf.range(tf.size(a), dtype=a.dtype) * 0.37 + 1.0),
                                                        tf.shape(a))) for a in flat)
            return flat, tape.gradient(loss, [x] + encoder.trainable_weights)

        fn = wrap(forward_backward) if wrap else forward_backward
        flat, grads = fn(tf.constant(x), tf.constant(mask))
        results.append(([_numpy(a) for a in flat], [_numpy(g) for g in grads]))
    return results


def _random_biases(encoder):
    for v in encoder.weights:
        if "bias" in v.path:
            v.assign(RNG.normal(size=v.shape).astype("float32"))


@_TF_ONLY
@pytest.mark.parametrize(
    "kwargs",
    [{"num_layers": 2}, {"bidirectional": False, "return_state": True}, {"return_state": True, "num_layers": 2}],
)
def test_fused_cpu_lstm_matches_keras_outputs_states_and_gradients(kwargs, monkeypatch):
    x = RNG.normal(size=(4, 7, 5)).astype("float32")
    mask = np.arange(7)[None, :] < np.array([7, 3, 1, 0])[:, None]
    encoder = RNNEncoder(4, **kwargs)
    encoder.build(x.shape)
    _random_biases(encoder)
    (out_ref, grad_ref), (out_fused, grad_fused) = _run_both(encoder, x, mask, monkeypatch)
    assert len(out_ref) == len(out_fused) and len(grad_ref) == len(grad_fused)
    for a, b in zip(out_ref + grad_ref, out_fused + grad_fused):
        np.testing.assert_allclose(b, a, atol=1e-5)
    # The comparison is not vacuous: real steps and every weight get signal.
    assert np.abs(out_ref[0][0]).max() > 1e-3
    assert all(np.abs(g).max() > 1e-4 for g in grad_ref[1:])


@_TF_ONLY
def test_fused_cpu_lstm_matches_keras_in_a_graph_with_unknown_lengths(monkeypatch):
    import tensorflow as tf

    x = RNG.normal(size=(3, 6, 5)).astype("float32")
    mask = np.arange(6)[None, :] < np.array([2, 6, 4])[:, None]
    encoder = RNNEncoder(4, num_layers=2)
    encoder.build(x.shape)
    _random_biases(encoder)

    def wrap(fn):
        return tf.function(fn, input_signature=[tf.TensorSpec([None, None, 5]), tf.TensorSpec([None, None], tf.bool)])

    (out_ref, grad_ref), (out_fused, grad_fused) = _run_both(encoder, x, mask, monkeypatch, wrap)
    for a, b in zip(out_ref + grad_ref, out_fused + grad_fused):
        np.testing.assert_allclose(b, a, atol=1e-5)


@_TF_ONLY
def test_fused_cpu_lstm_inference_loop_matches_keras(monkeypatch):
    """training=False takes a leaner loop (no stored gates); it must equal Keras in and out of graphs."""
    import tensorflow as tf

    from nlpseq.layers import rnn_encoder

    x = RNG.normal(size=(4, 7, 5)).astype("float32")
    mask = np.arange(7)[None, :] < np.array([7, 3, 1, 0])[:, None]
    encoder = RNNEncoder(4, num_layers=2)
    encoder.build(x.shape)
    _random_biases(encoder)
    calls = []
    lean = rnn_encoder._fused_cpu_lstm

    def spy(*args, **kwargs):
        out = lean(*args, **kwargs)
        calls.append((kwargs.get("training"), out is not None))
        return out

    monkeypatch.setattr(rnn_encoder, "_fused_cpu_lstm", spy)
    monkeypatch.setattr(rnn_encoder, "FUSED_CPU_LSTM", False)
    reference = _numpy(encoder(x, mask=mask, training=False))
    monkeypatch.setattr(rnn_encoder, "FUSED_CPU_LSTM", True)
    graph = tf.function(lambda a, m: encoder(a, mask=m, training=False),
                        input_signature=[tf.TensorSpec([None, None, 5]), tf.TensorSpec([None, None], tf.bool)])
    for got in (encoder(x, mask=mask, training=False), graph(tf.constant(x), tf.constant(mask))):
        np.testing.assert_allclose(_numpy(got), reference, atol=1e-5)
    assert np.abs(reference).max() > 1e-3
    assert (False, True) in calls  # the lean loop ran (and did not fall back to Keras)


@_TF_ONLY
def test_fused_cpu_lstm_is_used_only_where_it_applies(monkeypatch):
    import tensorflow as tf

    from nlpseq.layers import rnn_encoder

    x = tf.constant(X)
    mask = tf.constant(MASK | (np.arange(5)[None, :] == 0))
    lstm = RNNEncoder(3)
    lstm.build(X.shape)
    assert rnn_encoder._fused_cpu_lstm(lstm.rnns[0], x, mask, False) is not None
    for other in (RNNEncoder(3, cell="gru"), RNNEncoder(3, cell="simple")):
        other.build(X.shape)
        assert rnn_encoder._fused_cpu_lstm(other.rnns[0], x, mask, False) is None
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: ["/GPU:0"] if kind == "GPU" else [])
    assert rnn_encoder._fused_cpu_lstm(lstm.rnns[0], x, mask, False) is None
    monkeypatch.undo()
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert rnn_encoder._fused_cpu_lstm(lstm.rnns[0], x, mask, False) is None
    monkeypatch.undo()
    monkeypatch.setattr(rnn_encoder, "FUSED_CPU_LSTM", False)
    assert rnn_encoder._fused_cpu_lstm(lstm.rnns[0], x, mask, False) is None


@pytest.mark.parametrize("make,name", [
    (lambda rate: RNNEncoder(4, dropout=rate), "dropout"),
    (lambda rate: VariationalDropout(rate), "dropout rate"),
    (lambda rate: RecurrentStack(4, weight_drop=rate), "weight_drop"),
    (lambda rate: RNNLanguageModel(10, output_dropout=rate), "output_dropout"),
    (lambda rate: Seq2SeqModel(10, 10, label_smoothing=rate), "label_smoothing"),
])
@pytest.mark.parametrize("rate", [1.0, -0.1])
def test_rates_outside_zero_to_one_are_refused_by_name(make, name, rate):
    with pytest.raises(ConfigError, match=rf"^{name} must be in \[0, 1\), got {rate}$"):
        make(rate)
    make(0.0)  # the lower bound itself is valid
