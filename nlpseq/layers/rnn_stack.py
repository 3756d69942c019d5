"""Stacked unidirectional RNN whose per-layer states go in and come out (LMs, decoders)."""

import contextlib

import keras
from keras import ops

from nlpseq.checks import check_rate
from nlpseq.errors import ConfigError
from nlpseq.layers.rnn_encoder import _CELLS


@keras.saving.register_keras_serializable(package="nlpseq")
class VariationalDropout(keras.layers.Layer):
    """Dropout with one mask per sequence, shared by all time steps (Gal & Ghahramani).

    Args:
        rate: the share of features zeroed.
        **kwargs: base `keras.layers.Layer` arguments.

    Returns:
        `call(x, training)` on (B, T, D) returns x with the same D features
        dropped at every step of a sequence (scaled by 1 / (1 - rate)).
    """

    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate("dropout rate", rate)
        self.supports_masking = True
        self.seed_generator = keras.random.SeedGenerator()

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        shape = ops.shape(inputs)
        return keras.random.dropout(
            inputs, self.rate, noise_shape=(shape[0], 1, shape[2]), seed=self.seed_generator
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


@keras.saving.register_keras_serializable(package="nlpseq")
class RecurrentStack(keras.layers.Layer):
    """Stacked LSTM/GRU/SimpleRNN layers that take and return every layer's state.

    Unlike `RNNEncoder` (whole sentences, both directions), this block runs
    left to right and carries state across calls: a language model feeds the
    states of one BPTT window into the next, and generation feeds one token at
    a time. Between layers it applies variational dropout. Settings keep cuDNN
    eligible on a GPU (tanh/sigmoid, no recurrent dropout, no unrolling).

    Args:
        units: hidden size of every layer, or a list with one size per layer.
        cell: "lstm", "gru" or "simple".
        num_layers: number of layers (ignored when `units` is a list).
        dropout: variational dropout rate between layers (not on the stack's
            input or output; the model owns those).
        weight_drop: DropConnect rate on each layer's hidden-to-hidden matrix
            in training (AWD-LSTM's WeightDrop, Merity et al. 2018): one mask
            per call, so every step of a window sees the same dropped matrix.
            It regularizes the recurrence without touching the cell's
            computation, so cuDNN stays usable.
        **kwargs: base `keras.layers.Layer` arguments.

    Returns:
        `call(x, initial_state=None, training=None, mask=None)` on (B, T, D)
        returns `(outputs, states)`: outputs (B, T, units[-1]) and a flat list
        of the final states, layer by layer (`[h, c]` per LSTM layer, `[h]` per
        GRU or SimpleRNN layer). `initial_state` is such a list (None: zeros).
        A right-padded (B, T) `mask` makes the states those after each row's
        last unmasked step (a fully masked row keeps its initial state).

    Example:
        >>> stack = RecurrentStack(8, cell="lstm", num_layers=2)
        >>> y, states = stack(np.zeros((3, 5, 4), "float32"))
        >>> y.shape, len(states)
        ((3, 5, 8), 4)
    """

    def __init__(self, units, cell="lstm", num_layers=1, dropout=0.0, weight_drop=0.0, **kwargs):
        super().__init__(**kwargs)
        if cell not in _CELLS:
            raise ConfigError(f"unknown RNN cell {cell!r}; expected one of {sorted(_CELLS)}")
        sizes = [int(u) for u in units] if isinstance(units, (list, tuple)) else [int(units)] * int(num_layers)
        if not sizes or min(sizes) < 1:
            raise ConfigError(f"RecurrentStack needs at least one layer of positive size, got {units!r}")
        self.units = sizes
        self.cell = cell
        self.dropout = float(dropout)
        self.weight_drop = check_rate("weight_drop", weight_drop)
        # Only with weight drop: a generator changes the model's variables (and EpochSeeds' order).
        self.seed_generator = keras.random.SeedGenerator() if self.weight_drop else None
        self.rnns = [
            _CELLS[cell](size, return_sequences=True, return_state=True, dtype=self.dtype_policy, name=f"{cell}_{i}")
            for i, size in enumerate(sizes)
        ]
        self.dropouts = [VariationalDropout(self.dropout, name=f"dropout_{i}") for i in range(1, len(sizes))]
        self.supports_masking = True

    @property
    def states_per_layer(self):
        return 2 if self.cell == "lstm" else 1

    @property
    def output_dim(self):
        return self.units[-1]

    def state_sizes(self):
        """The size of each entry of a state list, in order."""
        return [size for size in self.units for _ in range(self.states_per_layer)]

    def zero_states(self, batch_size):
        """A state list of zeros for `batch_size` rows."""
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_sizes()]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for rnn, size in zip(self.rnns, self.units):
            rnn.build(shape)
            shape = shape[:-1] + (size,)
        self.built = True

    def call(self, inputs, initial_state=None, training=None, mask=None):
        per = self.states_per_layer
        if initial_state is None:
            initial_state = self.zero_states(ops.shape(inputs)[0])
        initial_state = list(initial_state)
        if len(initial_state) != per * len(self.rnns):
            raise ConfigError(f"RecurrentStack expects {per * len(self.rnns)} state tensors, got {len(initial_state)}")
        x, states = inputs, []
        for i, rnn in enumerate(self.rnns):
            if i > 0:
                x = self.dropouts[i - 1](x, training=training)
            with self._recurrence_dropped(rnn, training):
                out = rnn(x, initial_state=initial_state[i * per:(i + 1) * per], training=training, mask=mask)
            x = out[0]
            states += list(out[1:])
        return x, states

    def _recurrence_dropped(self, rnn, training):
        """A scope in which `rnn` reads a DropConnect-ed copy of its recurrent kernel (training only).

        Every weight of the cell is mapped to its current value and only the
        recurrent kernel is replaced: a scope answers for all variables read
        inside it, and on JAX the current values are the train step's traced
        ones (an outer stateless scope), which gradients must flow through.
        """
        if not training or not self.weight_drop:
            return contextlib.nullcontext()
        kernel = rnn.cell.recurrent_kernel
        dropped = keras.random.dropout(kernel.value, self.weight_drop, seed=self.seed_generator)
        mapping = [(w, dropped if w is kernel else w.value) for w in rnn.cell.weights]
        return keras.StatelessScope(state_mapping=mapping)

    def compute_mask(self, inputs, mask=None):
        return [mask, None]

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        return tuple(input_shape[:-1]) + (self.units[-1],), [(batch, s) for s in self.state_sizes()]

    def get_config(self):
        config = super().get_config()
        config.update({"units": list(self.units), "cell": self.cell, "dropout": self.dropout,
                       "weight_drop": self.weight_drop})
        return config
