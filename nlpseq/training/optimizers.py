"""Optimizers: Keras' own, plus an Adam whose TensorFlow update is one fused op per variable."""

import keras


def _tensorflow_fast_path():
    """Whether the fused TensorFlow update applies: TF backend, no distribution strategy.

    Under a `tf.distribute` strategy the variables are mirrored and Keras'
    own update (which knows how to reach each replica's copy) is kept.
    """
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.distribute.has_strategy()


@keras.saving.register_keras_serializable(package="nlpseq")
class Adam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` with the same arithmetic in fewer passes over memory on TensorFlow.

    Why: Keras 3 writes Adam's update as about ten separate ops per variable,
    each a full pass over it, and turns an embedding's sparse gradient into a
    dense one twice (once for the global norm, once for the update). On a
    2-core CPU that was a fifth of a tagger's training step (keras-team/keras
    #19992 has the same complaint). On the TensorFlow
    backend (without a distribution strategy) this class
    - sums a sparse gradient's repeated rows once (a word seen twice in a
      batch has two rows), so the global norm and the clipping work on the
      rows a batch touched, and
    - applies each update with TensorFlow's fused `ResourceApplyAdam` kernel:
      m, v and the variable are read and written once.
    The update is Adam on the dense gradient, Keras' formula (`lr * sqrt(1 -
    b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon)`), rows without a gradient
    included. (Keras 3's own TF path, given the sparse gradient as it is,
    drifts from dense Adam when a batch repeats a word: by up to 0.02 in a
    weight after 4 steps of the test model. The tests compare this class with
    Keras' Adam fed dense gradients.) Other backends, a distribution strategy
    and `amsgrad` take Keras' own path.

    Args:
        *args, **kwargs: those of `keras.optimizers.Adam`.

    Example:
        >>> model.compile(optimizer=nlpseq.training.optimizers.Adam(1e-3, global_clipnorm=5.0))
    """

    def _clip_gradients(self, grads):
        if not _tensorflow_fast_path():
            return super()._clip_gradients(grads)
        import tensorflow as tf

        # A sparse gradient repeats a row for each occurrence of a word in the batch;
        # the norms (and the update) must see the summed rows.
        grads = [_unique_rows(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        if not self.global_clipnorm or self.clipnorm:
            return super()._clip_gradients(grads)
        squares = [tf.reduce_sum(tf.square(g.values if isinstance(g, tf.IndexedSlices) else g))
                   for g in grads if g is not None]
        norm = tf.sqrt(tf.add_n(squares))
        clip = tf.cast(self.global_clipnorm, norm.dtype)
        # As keras.optimizers' clip_by_global_norm: a no-op under the clip, NaN for a non-finite norm.
        scale = clip * tf.minimum(1.0 / norm, 1.0 / clip) + (norm - norm)
        return [None if g is None else _scaled(g, scale) for g in grads]

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or not _tensorflow_fast_path():
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf

        tf_variable = variable.value if isinstance(variable, keras.Variable) else variable
        dtype = tf_variable.dtype
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=tf_variable.handle, m=m.value.handle, v=v.value.handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            # An embedding's gradient becomes dense once, here (dense Adam moves every row).
            grad=tf.cast(tf.convert_to_tensor(gradient), dtype),
        )


def _unique_rows(slices):
    """A `tf.IndexedSlices` with each row index once (duplicate rows summed)."""
    import tensorflow as tf

    indices, positions = tf.unique(slices.indices)
    values = tf.math.unsorted_segment_sum(slices.values, positions, tf.shape(indices)[0])
    return tf.IndexedSlices(values, indices, slices.dense_shape)


def _scaled(gradient, scale):
    import tensorflow as tf

    if isinstance(gradient, tf.IndexedSlices):
        return tf.IndexedSlices(gradient.values * tf.cast(scale, gradient.values.dtype), gradient.indices,
                                gradient.dense_shape)
    return gradient * tf.cast(scale, gradient.dtype)


OPTIMIZERS = {"adam": Adam, "nadam": keras.optimizers.Nadam, "sgd": keras.optimizers.SGD}
