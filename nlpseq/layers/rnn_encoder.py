"""Stacked (bidirectional) recurrent encoder that keeps cuDNN eligible."""

import keras
from keras import ops

from nlpseq.checks import check_rate
from nlpseq.errors import ConfigError

_CELLS = {
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
    "simple": keras.layers.SimpleRNN,
}


def _activation_name(fn):
    return getattr(fn, "__name__", str(fn))


def cudnn_eligible(rnn_layer):
    """Whether a Keras LSTM/GRU layer's settings let TensorFlow use cuDNN on a GPU.

    The settings are those the TF backend checks: tanh activation, sigmoid
    recurrent activation, no recurrent dropout, no unrolling, a bias, and for
    a GRU `reset_after=True`. (Masks must also be right-padded at run time.)

    Args:
        rnn_layer: a `keras.layers.LSTM` or `keras.layers.GRU` (other layers,
            e.g. SimpleRNN, are never eligible).

    Returns:
        True when every setting allows cuDNN.

    Example:
        >>> nlpseq.layers.cudnn_eligible(keras.layers.LSTM(4))
        True
    """
    if not isinstance(rnn_layer, (keras.layers.LSTM, keras.layers.GRU)):
        return False
    cell = rnn_layer.cell
    eligible = (
        _activation_name(cell.activation) == "tanh"
        and _activation_name(cell.recurrent_activation) == "sigmoid"
        and not cell.recurrent_dropout
        and not rnn_layer.unroll
        and cell.use_bias
        and getattr(rnn_layer, "use_cudnn", "auto") in ("auto", True)
    )
    if isinstance(rnn_layer, keras.layers.GRU):
        eligible = eligible and cell.reset_after
    return bool(eligible)


# Module switch for the fused CPU LSTM below (the benchmark turns it off to
# measure the standard path); it is read when a call is traced.
FUSED_CPU_LSTM = True


def _fused_cpu_lstm(rnn, x, mask, return_state, training=True):
    """Runs a (Bidirectional) Keras LSTM through a lean TensorFlow CPU loop, or returns None.

    Why: on a CPU, Keras runs an LSTM as a `tf.while_loop` over its cell with
    masking at every step, and autodiff adds a second loop of many tiny ops;
    for tagger-sized batches the per-op overhead costs more than the
    arithmetic. Here the input projection of all steps is one large matmul
    per direction, each direction is a lean loop (the backward one walks
    the rows from their ends instead of reversing them), and a hand-written
    backward pass keeps only the recurrent matmul and a few elementwise ops
    in its loop, computing the recurrent kernel's gradient afterwards as one
    large matmul. Measured ~1.3-2x faster per training step on 2 cores
    (bench/tagger_speed.py, variant `unfused`). The two directions stay
    separate loops on purpose: TensorFlow runs them in parallel, one per
    core, and a single loop over both with a batched matmul was measured at
    0.64x the speed (BENCHMARKS.md).
    (TensorFlow's fused `BlockLSTM` op was measured slower than Keras on CPU,
    and `BlockLSTMV2`'s registered gradient is `BlockLSTM`'s, which is wrong
    for V2's gate order.)
    The Keras layers keep owning the variables, so `.keras` files and the
    cuDNN path on a GPU are unchanged.

    Only the TensorFlow backend without a GPU, a float32 LSTM in the settings
    `RNNEncoder` creates, and a right-padded `mask` qualify; everything else
    returns None and takes the standard Keras path. Outputs at padded steps
    differ from Keras' (they are computed, not repeated); callers mask them.

    Args:
        rnn: a `keras.layers.LSTM` or `keras.layers.Bidirectional` over one.
        x: (B, T, D) inputs.
        mask: (B, T) bool, right-padded, at least one step per row.
        return_state: also return the final states like the Keras layer.
        training: False (inference, without return_state) runs a leaner loop
            that keeps nothing for the backward pass.

    Returns:
        None, or what `rnn(x, mask=mask)` returns at the unpadded steps.
    """
    if not FUSED_CPU_LSTM or keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    bidirectional = isinstance(rnn, keras.layers.Bidirectional)
    layers = [rnn.forward_layer, rnn.backward_layer] if bidirectional else [rnn]
    for layer in layers:
        if not (isinstance(layer, keras.layers.LSTM) and cudnn_eligible(layer)
                and not layer.cell.dropout and not layer.stateful
                and layer.go_backwards == (layer is not layers[0])):
            return None
    if x.dtype != tf.float32 or tf.config.list_logical_devices("GPU"):
        return None

    units = layers[0].units
    batch, steps = tf.shape(x)[0], tf.shape(x)[1]
    zeros = tf.zeros([batch, units])

    def cell_step(k, h, c, xp, recurrent, keep):
        """One LSTM step of a direction: returns (t, z, h, c), z the pre-activation gates.

        xp (T, B, 4H) input projections (gates i, f, c, o); recurrent (H, 4H). The
        backward direction (`keep` not None) walks from the last step and keeps its
        state at zero over the right padding, so each row starts at its own end.
        """
        backward = keep is not None
        t = steps - 1 - k if backward else k
        z = xp[t] + tf.matmul(h, recurrent)
        i, f, g, o = tf.split(z, 4, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        if backward:
            c, h = c * keep[t], h * keep[t]
        return t, z, h, c

    def run_direction_inference(xp, recurrent, keep):
        """`run_direction` without what only the gradient needs: returns the (T, B, H) outputs.

        No gates or cell states are stored and there is no custom gradient, so each
        step is a matmul and a few elementwise ops (autodiff still works if asked).
        """

        def step(k, h, c, hs):
            t, _, h, c = cell_step(k, h, c, xp, recurrent, keep)
            return k + 1, h, c, hs.write(t, h)

        hs = tf.TensorArray(tf.float32, size=steps)
        _, _, _, hs = tf.while_loop(lambda k, *_: k < steps, step, [0, zeros, zeros, hs])
        return hs.stack()

    def run_direction(xp, recurrent, keep):
        """Runs one direction; `keep` (T, B, 1) is None forward, the mask backward."""
        backward = keep is not None

        @tf.custom_gradient
        def recurrence(xp, recurrent):
            # `cell_step` has the forward recursion; the gates z and the states are
            # kept for the hand-written backward pass below.
            def step(k, h, c, zs, hs, cs):
                t, z, h, c = cell_step(k, h, c, xp, recurrent, keep)
                return k + 1, h, c, zs.write(t, z), hs.write(t, h), cs.write(t, c)

            arrays = [tf.TensorArray(tf.float32, size=steps) for _ in range(3)]
            _, _, _, zs, hs, cs = tf.while_loop(lambda k, *_: k < steps, step, [0, zeros, zeros, *arrays])
            zs, hs, cs = zs.stack(), hs.stack(), cs.stack()

            def shifted(seq):
                # The state each step started from (zeros before the first one).
                if backward:
                    return tf.concat([seq[1:], zeros[None]], 0)
                return tf.concat([zeros[None], seq[:-1]], 0)

            def grad(dhs, dcs):
                # Every elementwise factor of the recursion's derivative, for all steps at once.
                i, f, g, o = tf.split(zs, 4, axis=-1)
                i, f, g, o = tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)
                tc = tf.tanh(cs)
                dc_from_h = o * (1.0 - tc * tc)
                # dz = [dc, dc, dc, dh] * factors (i, f, c, o blocks).
                factors = tf.concat([g * i * (1.0 - i), shifted(cs) * f * (1.0 - f), i * (1.0 - g * g),
                                     tc * o * (1.0 - o)], axis=-1)
                dcs = tf.zeros_like(cs) if dcs is None else dcs

                def back(k, dh, dc, dzs):
                    t = k if backward else steps - 1 - k
                    dh = dhs[t] + dh
                    dc = dcs[t] + dc
                    if backward:
                        dh, dc = dh * keep[t], dc * keep[t]
                    dc = dc + dh * dc_from_h[t]
                    dz = tf.concat([dc, dc, dc, dh], axis=-1) * factors[t]
                    return k + 1, tf.matmul(dz, recurrent, transpose_b=True), dc * f[t], dzs.write(t, dz)

                dzs = tf.TensorArray(tf.float32, size=steps)
                _, _, _, dzs = tf.while_loop(lambda k, *_: k < steps, back, [0, zeros, zeros, dzs])
                dzs = dzs.stack()
                # The recurrent kernel's gradient for all steps at once: h_prev^T dz.
                h_prev = tf.reshape(shifted(hs), [-1, units])
                return dzs, tf.matmul(h_prev, tf.reshape(dzs, [-1, 4 * units]), transpose_a=True)

            return (hs, cs), grad

        return recurrence(xp, recurrent)

    # One input projection for all steps per direction: two matmuls TensorFlow runs
    # in parallel, and no split of a joint projection (nor a concat of its gradient).
    time_major = tf.reshape(tf.transpose(x, [1, 0, 2]), [-1, tf.shape(x)[2]])
    xp = [tf.reshape(tf.matmul(time_major, layer.cell.kernel) + layer.cell.bias, [steps, batch, 4 * units])
          for layer in layers]
    keep = tf.cast(tf.transpose(mask)[:, :, None], tf.float32)
    lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
    last = tf.stack([tf.maximum(lengths - 1, 0), tf.range(batch)], axis=1)
    outputs, states = [], []
    for layer, projected in zip(layers, xp):
        # The directions are independent loops, which TensorFlow runs in parallel.
        recurrent = tf.convert_to_tensor(layer.cell.recurrent_kernel)
        direction_keep = keep if layer.go_backwards else None
        if not training and not return_state:
            outputs.append(run_direction_inference(projected, recurrent, direction_keep))
            continue
        h, c = run_direction(projected, recurrent, direction_keep)
        if layer.go_backwards:
            states += [h[0], c[0]]
        else:
            states += [tf.gather_nd(h, last), tf.gather_nd(c, last)]
        outputs.append(h)
    output = tf.transpose(tf.concat(outputs, axis=-1), [1, 0, 2])
    return [output] + states if return_state else output


@keras.saving.register_keras_serializable(package="nlpseq")
class RNNEncoder(keras.layers.Layer):
    """Stacked, optionally bidirectional RNN with dropout on each layer's input.

    The defaults (tanh/sigmoid, no recurrent dropout, no unrolling, biases,
    GRU `reset_after=True`) keep TensorFlow's cuDNN kernels usable on a GPU.

    Args:
        units: units per direction.
        cell: "lstm", "gru" or "simple".
        num_layers: number of stacked recurrent layers.
        bidirectional: run each layer in both directions and concatenate.
        dropout: rate of `keras.layers.Dropout` applied to each layer's input
            (the embeddings for the first layer); 0 disables it.
        return_state: also return the last layer's final states.
        **kwargs: base `keras.layers.Layer` arguments.

    Returns:
        `call(inputs, mask=None, training=None)` on (B, T, D) returns
        (B, T, units * (2 if bidirectional else 1)); with `return_state`, a
        tuple `(outputs, states)` where `states` is the list of final states
        of the last layer (forward then backward; `[h, c]` per LSTM
        direction, `[h]` per GRU/simple direction).

    Masking:
        Consumes the Keras mask (right-padded) and propagates it to `outputs`.
        Empty sequences are run over one step (cuDNN rejects fully masked
        sequences) and their outputs and states are zeros.

    Example:
        >>> encoder = nlpseq.layers.RNNEncoder(8, cell="lstm", num_layers=2, dropout=0.5)
        >>> encoder(np.zeros((2, 5, 16), "float32")).shape
        (2, 5, 16)
    """

    def __init__(
        self,
        units,
        cell="lstm",
        num_layers=1,
        bidirectional=True,
        dropout=0.0,
        return_state=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if cell not in _CELLS:
            raise ConfigError(f"unknown RNN cell {cell!r}; expected one of {sorted(_CELLS)}")
        if int(num_layers) < 1:
            raise ConfigError(f"num_layers must be >= 1, got {num_layers}")
        check_rate("dropout", dropout)
        self.units = int(units)
        self.cell = cell
        self.num_layers = int(num_layers)
        self.bidirectional = bool(bidirectional)
        self.dropout = float(dropout)
        self.return_state = bool(return_state)
        self.supports_masking = True

        self.dropouts = []
        self.rnns = []
        for i in range(self.num_layers):
            self.dropouts.append(
                keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name=f"dropout_{i}")
            )
            rnn = _CELLS[cell](
                self.units,
                return_sequences=True,
                return_state=self.return_state and i == self.num_layers - 1,
                dtype=self.dtype_policy,
                name=f"{cell}_{i}",
            )
            if self.bidirectional:
                rnn = keras.layers.Bidirectional(
                    rnn, merge_mode="concat", dtype=self.dtype_policy, name=f"bi{cell}_{i}"
                )
            self.rnns.append(rnn)

    @property
    def output_dim(self):
        return self.units * (2 if self.bidirectional else 1)

    def recurrent_layers(self):
        """The underlying LSTM/GRU/SimpleRNN layers, forward and backward, bottom up."""
        layers = []
        for rnn in self.rnns:
            if isinstance(rnn, keras.layers.Bidirectional):
                layers += [rnn.forward_layer, rnn.backward_layer]
            else:
                layers.append(rnn)
        return layers

    def build(self, input_shape):
        shape = tuple(input_shape)
        for rnn in self.rnns:
            rnn.build(shape)
            shape = shape[:-1] + (self.output_dim,)
        self.built = True

    def call(self, inputs, mask=None, training=None):
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        mask = ops.cast(mask, "bool")
        has_tokens = ops.any(mask, axis=1)
        first = ops.expand_dims(ops.equal(ops.arange(ops.shape(inputs)[1]), 0), 0)
        rnn_mask = ops.logical_or(mask, first)

        x = inputs
        states = []
        for i, (drop, rnn) in enumerate(zip(self.dropouts, self.rnns)):
            if self.dropout > 0:
                x = drop(x, training=training)
            last_layer = self.return_state and i == self.num_layers - 1
            fused = _fused_cpu_lstm(rnn, x, rnn_mask, last_layer, training=bool(training))
            x = rnn(x, mask=rnn_mask, training=training) if fused is None else fused
            if self.return_state and i == self.num_layers - 1:
                x, states = x[0], list(x[1:])
        keep = ops.cast(ops.expand_dims(mask, -1), x.dtype)
        # Keras may repeat the last state at masked steps; zeros keep padding inert.
        x = x * keep
        if not self.return_state:
            return x
        alive = ops.cast(ops.expand_dims(has_tokens, -1), x.dtype)
        return x, [s * ops.cast(alive, s.dtype) for s in states]

    def compute_mask(self, inputs, mask=None):
        if not self.return_state:
            return mask
        return [mask, None] if mask is not None else None

    def compute_output_shape(self, input_shape):
        out = tuple(input_shape[:-1]) + (self.output_dim,)
        if not self.return_state:
            return out
        per_direction = 2 if self.cell == "lstm" else 1
        directions = 2 if self.bidirectional else 1
        state = (input_shape[0], self.units)
        return out, [state] * (per_direction * directions)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "cell": self.cell,
                "num_layers": self.num_layers,
                "bidirectional": self.bidirectional,
                "dropout": self.dropout,
                "return_state": self.return_state,
            }
        )
        return config
