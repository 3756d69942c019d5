"""Stacked (bidirectional) recurrent encoder that keeps cuDNN eligible."""

import keras
from keras import ops

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
        if not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
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
            x = rnn(x, mask=rnn_mask, training=training)
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
