import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import nlpseq.layers
from nlpseq.layers import CRF, crf_decode, crf_log_likelihood, crf_log_norm, crf_sequence_score
from tests.helpers import crf_brute_force, crf_mismatches, crf_test_case, run_layer_test

CASES = [(0, 4, (4, 0, 1, 3, 2)), (1, 1, (1, 0)), (2, 3, (3, 3)), (4, 2, (0, 0))]


@pytest.mark.parametrize("seed,steps,lengths", CASES)
def test_functions_match_brute_force_eager(seed, steps, lengths):
    case = crf_test_case(seed=seed, steps=steps, lengths=lengths)
    assert crf_mismatches(crf_log_norm, crf_sequence_score, crf_decode, case) == []


def test_tensorflow_viterbi_equals_the_scan_viterbi():
    """crf_decode takes a lean tf.while_loop path on TF; the generic keras.ops.scan path
    (used by the other backends) must give the same tags and scores, in and out of graphs."""
    import tensorflow as tf

    from nlpseq.layers.crf import _prepare, _viterbi_scan, _viterbi_tf

    rng = np.random.default_rng(7)
    for batch, steps, num_tags in [(6, 9, 17), (3, 1, 5), (4, 0, 3), (5, 30, 9)]:
        lengths = rng.integers(0, steps + 1, size=batch)
        mask = np.arange(steps)[None, :] < lengths[:, None]
        # Coarse scores make ties common, so tie-breaking must agree too.
        potentials = rng.integers(-2, 3, size=(batch, steps, num_tags)).astype("float32")
        weights = [rng.integers(-2, 3, size=shape).astype("float32") for shape in [(num_tags, num_tags), (num_tags,), (num_tags,)]]
        prepared = _prepare(potentials, mask, *weights)
        scan_tags, scan_score = _viterbi_scan(*prepared, steps)
        for fn in (_viterbi_tf, tf.function(_viterbi_tf)):
            tags, score = fn(*prepared)
            np.testing.assert_array_equal(np.asarray(tags)[:, :steps], np.asarray(scan_tags))
            np.testing.assert_allclose(np.asarray(score), np.asarray(scan_score), atol=1e-5)


def test_brute_force_check_detects_a_wrong_transition_direction():
    # Guards the reference itself: transposed transitions must not pass.
    case = crf_test_case(seed=5)

    def transposed(fn):
        def wrapped(*args):
            args = list(args)
            args[-3] = np.transpose(args[-3])
            return fn(*args)

        return wrapped

    problems = crf_mismatches(
        transposed(crf_log_norm), transposed(crf_sequence_score), crf_decode, case
    )
    assert any(p.startswith("sequence_score") for p in problems)


def test_functions_match_brute_force_in_tf_function_with_dynamic_shapes():
    num_tags = 3
    pot_spec = tf.TensorSpec((None, None, num_tags), tf.float32)
    mask_spec = tf.TensorSpec((None, None), tf.bool)
    weight_specs = [
        tf.TensorSpec((num_tags, num_tags), tf.float32),
        tf.TensorSpec((num_tags,), tf.float32),
        tf.TensorSpec((num_tags,), tf.float32),
    ]
    log_norm = tf.function(crf_log_norm, input_signature=[pot_spec, mask_spec, *weight_specs])
    score = tf.function(
        crf_sequence_score,
        input_signature=[pot_spec, tf.TensorSpec((None, None), tf.int32), mask_spec, *weight_specs],
    )
    decode = tf.function(crf_decode, input_signature=[pot_spec, mask_spec, *weight_specs])
    for seed, steps, lengths in CASES:
        case = crf_test_case(seed=seed, steps=steps, lengths=lengths)
        assert crf_mismatches(log_norm, score, decode, case) == []
    # One traced graph serves every batch and time size.
    assert decode.experimental_get_tracing_count() == 1


def test_layer_decode_in_tf_function_with_none_none_k_signature():
    case = crf_test_case(seed=6)
    crf = CRF(3)
    crf.build((None, None, 3))
    crf.set_weights([case["transitions"], case["start"], case["end"]])

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, None, 3), tf.float32),
            tf.TensorSpec((None, None), tf.bool),
        ]
    )
    def serve(potentials, mask):
        return crf.decode(potentials, mask)

    ref = crf_brute_force(
        case["potentials"], case["lengths"], case["transitions"], case["start"], case["end"]
    )
    tags, scores = serve(case["potentials"], case["mask"])
    np.testing.assert_array_equal(tags.numpy(), ref["best_tags"])
    np.testing.assert_allclose(scores.numpy(), ref["best_score"], atol=1e-4)
    # A time axis of length 0 is legal too.
    tags, scores = serve(tf.zeros((2, 0, 3)), tf.zeros((2, 0), tf.bool))
    assert tags.shape == (2, 0) and scores.numpy().tolist() == [0.0, 0.0]


def test_mask_none_means_all_valid():
    case = crf_test_case(seed=7, lengths=(4, 4))
    weights = (case["transitions"], case["start"], case["end"])
    np.testing.assert_allclose(
        crf_log_norm(case["potentials"], None, *weights),
        crf_log_norm(case["potentials"], case["mask"], *weights),
        atol=1e-6,
    )
    tags_none, _ = crf_decode(case["potentials"], None, *weights)
    tags_mask, _ = crf_decode(case["potentials"], case["mask"], *weights)
    np.testing.assert_array_equal(tags_none, tags_mask)


def test_log_likelihood_gradient_is_finite_and_matches_finite_differences():
    case = crf_test_case(seed=8, steps=3, lengths=(3, 0, 1))
    potentials = tf.Variable(case["potentials"].astype("float64"))
    transitions = tf.Variable(case["transitions"].astype("float64"))
    start, end = case["start"].astype("float64"), case["end"].astype("float64")

    def loss():
        return -tf.reduce_sum(
            crf_log_likelihood(potentials, case["tags"], case["mask"], transitions, start, end)
        )

    with tf.GradientTape() as tape:
        value = loss()
    grad_pot, grad_trans = tape.gradient(value, [potentials, transitions])
    assert np.all(np.isfinite(grad_pot.numpy())) and np.all(np.isfinite(grad_trans.numpy()))
    # Padded positions and the empty sequence get no gradient.
    assert np.all(grad_pot.numpy()[1] == 0) and np.all(grad_pot.numpy()[2, 1:] == 0)

    eps = 1e-5
    for var, grad, index in [
        (potentials, grad_pot, (0, 1, 2)),
        (potentials, grad_pot, (2, 0, 0)),
        (transitions, grad_trans, (0, 1)),
        (transitions, grad_trans, (2, 2)),
    ]:
        original = var.numpy()
        plus, minus = original.copy(), original.copy()
        plus[index] += eps
        minus[index] -= eps
        var.assign(plus)
        f_plus = loss().numpy()
        var.assign(minus)
        f_minus = loss().numpy()
        var.assign(original)
        numeric = (f_plus - f_minus) / (2 * eps)
        assert abs(numeric - grad.numpy()[index]) < 1e-4, (index, numeric, grad.numpy()[index])


def test_log_likelihood_is_a_normalized_distribution():
    # Summing exp(log-likelihood) over all K^T paths of a length-3 sequence gives 1.
    case = crf_test_case(seed=9, steps=3, lengths=(3,))
    weights = (case["transitions"], case["start"], case["end"])
    paths = np.array(np.meshgrid(*[range(3)] * 3, indexing="ij")).reshape(3, -1).T
    potentials = np.repeat(case["potentials"], len(paths), axis=0)
    ll = crf_log_likelihood(potentials, paths.astype("int32"), None, *weights)
    np.testing.assert_allclose(np.exp(keras.ops.convert_to_numpy(ll)).sum(), 1.0, atol=1e-4)


class MaskEcho(keras.layers.Layer):
    """Returns the Keras mask it receives, as float."""

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, inputs, mask=None):
        return keras.ops.cast(mask, "float32")


def test_layer_returns_potentials_and_propagates_mask():
    inputs = keras.Input((None,), dtype="int32")
    emissions = keras.layers.Embedding(10, 3, mask_zero=True)(inputs)
    outputs = CRF(3)(emissions)
    model = keras.Model(inputs, [emissions, outputs, MaskEcho()(outputs)])
    ids = np.array([[1, 2, 0], [3, 0, 0]])
    emitted, returned, mask = model(ids)
    np.testing.assert_array_equal(returned, emitted)
    np.testing.assert_array_equal(mask, [[1, 1, 0], [1, 0, 0]])


def test_layer_config_and_keras_round_trip():
    potentials = np.random.default_rng(0).normal(size=(2, 4, 5)).astype("float32")
    layer, outputs = run_layer_test(CRF, {"num_tags": 5}, potentials, (2, 4, 5))
    np.testing.assert_allclose(outputs, potentials)
    assert [w.shape for w in layer.weights] == [(5, 5), (5,), (5,)]


def test_saved_model_keeps_crf_weights_and_decodes_the_same(tmp_path):
    inputs = keras.Input((None, 4))
    crf = CRF(3, name="crf")
    model = keras.Model(inputs, crf(keras.layers.Dense(3)(inputs)))
    x = np.random.default_rng(1).normal(size=(2, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    tags, _ = crf.decode(model(x), mask)
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras")
    crf2 = reloaded.get_layer("crf")
    assert isinstance(crf2, CRF)
    np.testing.assert_allclose(crf2.transitions.numpy(), crf.transitions.numpy())
    tags2, _ = crf2.decode(reloaded(x), mask)
    np.testing.assert_array_equal(tags, tags2)


class TinyCRFTagger(keras.Model):
    """A minimal emissions + CRF model trained through `compute_loss`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.embed = keras.layers.Embedding(12, 6, mask_zero=True)
        self.dense = keras.layers.Dense(3)
        self.crf = CRF(3)

    def call(self, ids):
        return self.crf(self.dense(self.embed(ids)))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        mask = keras.ops.not_equal(x, 0)
        return -keras.ops.mean(self.crf.log_likelihood(y_pred, y, mask))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_model_fit_in_graph_mode_lowers_the_crf_loss(jit_compile):
    # jit_compile=True is what `fit` picks by default on a GPU.
    rng = np.random.default_rng(2)
    ids = rng.integers(1, 12, size=(16, 6)).astype("int32")
    ids[::2, 4:] = 0
    ids[3, :] = 0  # an empty sequence in the batch
    tags = (ids % 3).astype("int32")
    model = TinyCRFTagger()
    model.compile(optimizer=keras.optimizers.Adam(0.05), jit_compile=jit_compile)
    history = model.fit(ids, tags, batch_size=8, epochs=15, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.5 * losses[0]
    mask = ids != 0
    decode = tf.function(model.crf.decode, jit_compile=jit_compile)
    pred, _ = decode(model(ids), mask)
    assert (pred.numpy()[mask] == tags[mask]).mean() > 0.9


def test_exported_in_layers_package():
    assert nlpseq.layers.CRF is CRF


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_jax_backend_under_jit_matches_brute_force():
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, str(root / "tests" / "layers" / "_crf_jax_check.py")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")
