"""Attention for recurrent decoders: Luong (dot, general) and Bahdanau (additive) scores,
and the attention decoder cell with input feeding (Luong et al., 2015)."""

import keras
from keras import ops

from nlpseq.errors import ConfigError

ATTENTION_TYPES = ("dot", "general", "bahdanau")


@keras.saving.register_keras_serializable(package="nlpseq")
class Attention(keras.layers.Layer):
    """Scores a decoder state against every memory position and averages the memory.

    - `dot` (Luong): score = h · m; the decoder size must equal the memory size.
    - `general` (Luong): score = h · W m.
    - `bahdanau` (additive): score = v · tanh(W m + U h).

    The memory-side half (`W m`) does not depend on the decoder step, so
    `keys(memory)` computes it once per sentence and every step reuses it.

    Args:
        kind: "dot", "general" or "bahdanau".
        units: size of the additive attention's hidden layer (bahdanau only).
        **kwargs: base `keras.layers.Layer` arguments.

    Returns:
        `call(query, memory, keys, mask)`: query (B, H), memory (B, S, M),
        keys from `keys(memory)`, mask (B, S) bool → `(context (B, M),
        weights (B, S))`; masked positions get weight 0.
    """

    def __init__(self, kind="general", units=None, **kwargs):
        super().__init__(**kwargs)
        if kind not in ATTENTION_TYPES:
            raise ConfigError(f"unknown attention type {kind!r} (choose {', '.join(ATTENTION_TYPES)})")
        self.kind = kind
        self.units = units

    def build(self, query_shape, memory_shape):
        query_dim, memory_dim = int(query_shape[-1]), int(memory_shape[-1])
        if self.kind == "dot" and query_dim != memory_dim:
            raise ConfigError(f"dot attention needs the decoder size ({query_dim}) to equal the memory size "
                              f"({memory_dim}); use 'general' or 'bahdanau'")
        if self.kind == "general":
            self.memory_kernel = self.add_weight(shape=(memory_dim, query_dim), name="memory_kernel")
        elif self.kind == "bahdanau":
            units = int(self.units or query_dim)
            self.memory_kernel = self.add_weight(shape=(memory_dim, units), name="memory_kernel")
            self.query_kernel = self.add_weight(shape=(query_dim, units), name="query_kernel")
            self.score_vector = self.add_weight(shape=(units,), name="score_vector")
        self.built = True

    def keys(self, memory):
        """The step-independent projection of the memory (B, S, ·)."""
        if self.kind == "dot":
            return memory
        return ops.matmul(memory, self.memory_kernel)

    def call(self, query, memory, keys, mask=None):
        if self.kind == "bahdanau":
            hidden = ops.tanh(keys + ops.expand_dims(ops.matmul(query, self.query_kernel), 1))
            scores = ops.sum(hidden * self.score_vector, axis=-1)
        else:
            scores = ops.sum(keys * ops.expand_dims(query, 1), axis=-1)
        if mask is not None:
            scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
        weights = ops.softmax(scores, axis=-1)
        context = ops.sum(ops.expand_dims(weights, -1) * memory, axis=1)
        return context, weights

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "units": self.units}


@keras.saving.register_keras_serializable(package="nlpseq")
class AttentionDecoderCell(keras.layers.Layer):
    """One decoder step: stacked LSTM/GRU cells, attention, and input feeding.

    At step t the input is the target embedding of y_{t-1} concatenated with
    the previous attentional vector h~_{t-1} (input feeding); the top layer's
    output h_t attends over the memory, and h~_t = tanh(W_c [context; h_t])
    is the step's output. It is a Keras RNN cell (`state_size`, `call(inputs,
    states)`), so `keras.layers.RNN` runs it over a whole target sequence in
    training, and the decoders call it one token at a time.

    The memory (encoder outputs), its precomputed keys and its mask are set
    with `set_memory` before the cell runs: Keras 3 RNN layers take no
    per-sequence constants.

    Args:
        units: hidden size of every decoder layer (and of h~).
        cell: "lstm" or "gru".
        num_layers: stacked decoder layers.
        attention: "dot", "general" or "bahdanau".
        dropout: dropout between stacked layers.
        memory_dim: size of the memory vectors (encoder outputs).
        **kwargs: base `keras.layers.Layer` arguments.
    """

    def __init__(self, units, cell="lstm", num_layers=1, attention="general", dropout=0.0, memory_dim=None,
                 **kwargs):
        super().__init__(**kwargs)
        if cell not in ("lstm", "gru"):
            raise ConfigError(f"decoder cell must be lstm or gru, got {cell!r}")
        self.units = int(units)
        self.cell_type = cell
        self.num_layers = int(num_layers)
        self.attention_type = attention
        self.dropout = float(dropout)
        self.memory_dim = int(memory_dim or units)
        cell_class = {"lstm": keras.layers.LSTMCell, "gru": keras.layers.GRUCell}[cell]
        self.cells = [cell_class(self.units, name=f"{cell}_cell_{i}") for i in range(self.num_layers)]
        self.attention = Attention(attention, name="attention")
        self.combine = keras.layers.Dense(self.units, activation="tanh", use_bias=False, name="combine")
        self.drops = [keras.layers.Dropout(self.dropout, name=f"dropout_{i}") for i in range(1, self.num_layers)]
        self.per_layer = 2 if cell == "lstm" else 1
        self.state_size = [self.units] * (self.per_layer * self.num_layers) + [self.units]
        self.output_size = self.units
        self._memory = None

    def set_memory(self, memory, keys, mask):
        """Sets the encoder outputs (B, S, M), their `Attention.keys` and mask (B, S) for the next run."""
        self._memory = (memory, keys, mask)

    def build(self, input_shape):
        x_dim = int(input_shape[-1]) + self.units  # the step input, then the fed-back attentional vector
        for i, cell in enumerate(self.cells):
            cell.build((None, x_dim if i == 0 else self.units))
        self.attention.build((None, self.units), (None, None, self.memory_dim))
        self.combine.build((None, self.units + self.memory_dim))
        self.built = True

    def call(self, inputs, states, training=None):
        attentional, new_states, _ = self.step(inputs, states, training=training)
        return attentional, new_states

    def step(self, inputs, states, training=None):
        """`call`, plus the attention weights (B, S) of the step."""
        if self._memory is None:
            raise ConfigError("AttentionDecoderCell: set_memory() must be called before the cell runs")
        memory, keys, mask = self._memory
        states = list(states)
        x = ops.concatenate([inputs, states[-1]], axis=-1)  # input feeding
        new_states = []
        for i, cell in enumerate(self.cells):
            if i > 0:
                x = self.drops[i - 1](x, training=training)
            layer_states = states[i * self.per_layer:(i + 1) * self.per_layer]
            x, layer_new = cell(x, layer_states if self.per_layer > 1 else layer_states[0], training=training)
            new_states += list(layer_new) if isinstance(layer_new, (list, tuple)) else [layer_new]
        context, weights = self.attention(x, memory, keys, mask)
        attentional = self.combine(ops.concatenate([context, x], axis=-1))
        return attentional, new_states + [attentional], weights

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "cell": self.cell_type, "num_layers": self.num_layers,
                       "attention": self.attention_type, "dropout": self.dropout, "memory_dim": self.memory_dim})
        return config
