"""nlpseq's Adam: Keras' arithmetic, with a fused TensorFlow update and a sparse-aware global norm."""

import keras
import numpy as np
import pytest

from nlpseq.training.optimizers import OPTIMIZERS, Adam

_TF_ONLY = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the fused path is TensorFlow's")


def _model(seed=3):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((5,), dtype="int32")
    x = keras.layers.Embedding(30, 6)(inputs)  # a sparse (IndexedSlices) gradient on TF
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(3)(x))


def _train(optimizer, steps=4):
    model = _model()
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    # Repeated word ids within and across rows: duplicate rows in the sparse gradient.
    x = rng.integers(0, 8, size=(steps * 4, 5)).astype("int32")
    y = rng.integers(0, 3, size=(steps * 4,)).astype("int32")
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    return [w.copy() for w in model.get_weights()], [keras.ops.convert_to_numpy(v) for v in optimizer.variables]


class DenseKerasAdam(keras.optimizers.Adam):
    """The reference: Keras' Adam given dense gradients (textbook Adam)."""

    def apply(self, grads, trainable_variables=None):
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            # tf.convert_to_tensor sums repeated rows into the dense gradient.
            grads = [tf.convert_to_tensor(g) if g is not None else g for g in grads]
        return super().apply(grads, trainable_variables)


@pytest.mark.parametrize("options", [{"global_clipnorm": 0.05}, {"global_clipnorm": 1e6}, {}, {"clipnorm": 0.05}])
def test_adam_matches_keras_adam_on_dense_gradients(options):
    """Weights and slots after a few steps equal Keras Adam's on the dense gradients (clipping active,
    inactive, off, per variable), with words repeated within batches."""
    ours, our_slots = _train(Adam(0.01, **options))
    theirs, their_slots = _train(DenseKerasAdam(0.01, **options))
    start, _ = _train(Adam(0.0, **options), steps=1)
    for a, b, s in zip(ours, theirs, start):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert np.abs(a - s).max() > 1e-4  # the weights did move
    for a, b in zip(our_slots, their_slots):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@_TF_ONLY
def test_adam_update_is_one_fused_op_per_variable_and_the_norm_stays_sparse():
    import tensorflow as tf

    model = _model()
    optimizer = Adam(0.01, global_clipnorm=1.0)
    optimizer.build(model.trainable_variables)
    x = tf.constant(np.arange(10).reshape(2, 5) % 4, tf.int32)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        assert isinstance(grads[0], tf.IndexedSlices)
        optimizer.apply(grads, model.trainable_variables)

    ops = [op.type for op in step.get_concrete_function().graph.get_operations()]
    assert ops.count("ResourceApplyAdam") == len(model.trainable_variables)
    # The embedding gradient is made dense once, for the update (not also for the norm).
    assert ops.count("UnsortedSegmentSum") == 2  # one to merge duplicate rows, one to densify


def test_adam_is_registered_and_round_trips():
    optimizer = Adam(0.002, global_clipnorm=5.0)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(again) is Adam
    assert again.global_clipnorm == 5.0 and abs(float(again.learning_rate) - 0.002) < 1e-9
    assert OPTIMIZERS["adam"] is Adam
