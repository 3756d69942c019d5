"""RNNLanguageModel: embeddings + stacked LSTM/GRU + (tied) softmax over the vocabulary."""

import keras
from keras import ops

from keras.src.losses.loss import scale_loss_for_distribution  # no public alias in Keras 3.15

from nlpseq.checks import check_rate
from nlpseq.errors import ConfigError
from nlpseq.layers.rnn_stack import RecurrentStack, VariationalDropout


@keras.saving.register_keras_serializable(package="nlpseq")
class RNNLanguageModel(keras.Model):
    """A left-to-right recurrent language model (Zaremba et al.; AWD-LSTM-style regularization).

    `call(ids)` maps (B, T) token ids to (B, T, V) next-token logits from zero
    states. `forward(ids, states)` does the same from given states and also
    returns the final states: truncated BPTT carries them from one window to the
    next, and `step` uses them to generate one token at a time without
    re-reading the prefix.

    Training uses `compute_loss` (mean cross-entropy over the tokens whose
    sample weight is 1), so plain `fit` works on every Keras backend.

    Args:
        vocab_size: number of token ids V (id 0 is padding and never predicted).
        embedding_dim: token embedding size.
        units: hidden size per layer (int, or one int per layer).
        num_layers: stacked layers when `units` is an int.
        cell: "lstm", "gru" or "simple" (SimpleRNN, for comparison).
        tie_weights: share the embedding matrix with the output layer (Press &
            Wolf; Inan et al.). When the last layer's size differs from
            `embedding_dim`, a linear projection maps it down first.
        embedding_dropout: share of word types dropped from the embedding
            matrix per batch (every occurrence of a dropped word is zeroed).
        input_dropout: variational dropout on the embeddings.
        dropout: variational dropout between recurrent layers.
        output_dropout: variational dropout on the last layer's outputs.
        weight_drop: DropConnect on the hidden-to-hidden matrices (AWD-LSTM;
            see `RecurrentStack`).

    Example:
        >>> lm = RNNLanguageModel(vocab_size=100, embedding_dim=16, units=16, num_layers=2)
        >>> lm(np.ones((2, 7), "int32")).shape
        (2, 7, 100)
    """

    def __init__(self, vocab_size, embedding_dim=200, units=200, num_layers=2, cell="lstm", tie_weights=True,
                 embedding_dropout=0.0, input_dropout=0.0, dropout=0.0, output_dropout=0.0, weight_drop=0.0,
                 **kwargs):
        super().__init__(**kwargs)
        if int(vocab_size) < 3:
            raise ConfigError(f"vocab_size must be at least 3, got {vocab_size}")
        for name, rate in (("embedding_dropout", embedding_dropout), ("input_dropout", input_dropout),
                           ("dropout", dropout), ("output_dropout", output_dropout)):
            check_rate(name, rate)
        self.vocab_size = int(vocab_size)
        self.embedding_dim = int(embedding_dim)
        self.cell = cell
        self.tie_weights = bool(tie_weights)
        self.embedding_dropout = float(embedding_dropout)
        self.input_dropout = float(input_dropout)
        self.dropout = float(dropout)
        self.output_dropout = float(output_dropout)

        self.embedding = keras.layers.Embedding(
            self.vocab_size, self.embedding_dim,
            embeddings_initializer=keras.initializers.RandomUniform(-0.1, 0.1), name="embedding")
        self.stack = RecurrentStack(units, cell=cell, num_layers=num_layers, dropout=dropout, weight_drop=weight_drop,
                                    name="rnn")
        self.units = self.stack.units
        self.input_drop = VariationalDropout(self.input_dropout, name="input_dropout")
        self.output_drop = VariationalDropout(self.output_dropout, name="output_dropout")
        self.projection = None
        if self.tie_weights and self.units[-1] != self.embedding_dim:
            self.projection = keras.layers.Dense(self.embedding_dim, use_bias=False, name="projection")
        self.output_layer = None if self.tie_weights else keras.layers.Dense(self.vocab_size, name="output")
        self.seed_generator = keras.random.SeedGenerator()

    def build(self, input_shape):
        self.embedding.build(input_shape)
        self.stack.build(tuple(input_shape) + (self.embedding_dim,))
        top = tuple(input_shape) + (self.units[-1],)
        if self.projection is not None:
            self.projection.build(top)
        if self.output_layer is not None:
            self.output_layer.build(top)
        else:
            self.output_bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros", name="output_bias")
        self.built = True

    # --- the network -------------------------------------------------------------------
    @property
    def state_sizes(self):
        """Sizes of the entries of a state list (h, c per LSTM layer; h per GRU layer)."""
        return self.stack.state_sizes()

    def zero_states(self, batch_size):
        """The initial state list for `batch_size` rows."""
        return self.stack.zero_states(batch_size)

    def _embed(self, ids, training):
        ids = ops.cast(ids, "int32")  # Keras builds a loaded model with float placeholders
        table = self.embedding.embeddings
        if training and self.embedding_dropout > 0:
            # Drop whole word types: one keep/drop draw per vocabulary row.
            keep = keras.random.dropout(ops.ones((self.vocab_size, 1), dtype=table.dtype),
                                        self.embedding_dropout, seed=self.seed_generator)
            table = table * keep
        return self.input_drop(ops.take(table, ids, axis=0), training=training)

    def _logits(self, hidden, training):
        hidden = self.output_drop(hidden, training=training)
        if self.output_layer is not None:
            return self.output_layer(hidden)
        if self.projection is not None:
            hidden = self.projection(hidden)
        return ops.matmul(hidden, ops.transpose(self.embedding.embeddings)) + self.output_bias

    def forward(self, ids, states=None, training=None, mask=None):
        """Next-token logits for every position, from `states`, and the final states.

        Args:
            ids: (B, T) int token ids.
            states: a state list (see `zero_states`), or None for zeros.
            training: enables dropout.
            mask: optional right-padded (B, T) bool mask; the returned states are
                then those after each row's last unmasked token (prompts of
                different lengths in one batch).

        Returns:
            `(logits, states)`: (B, T, V) logits and the state list after the
            last position.
        """
        hidden, states = self.stack(self._embed(ids, training), initial_state=states, training=training, mask=mask)
        return self._logits(hidden, training), states

    def step(self, ids, states):
        """One generation step: logits of the token after `ids` (B,) and the new states.

        It calls the recurrent cells directly: running each layer over a
        one-step sequence would wrap every step of a decode loop in a loop of
        its own (several times slower per token on a CPU).
        """
        x = ops.take(self.embedding.embeddings, ops.cast(ids, "int32"), axis=0)
        per = self.stack.states_per_layer
        new_states = []
        for i, rnn in enumerate(self.stack.rnns):
            x, state = rnn.cell(x, list(states[i * per:(i + 1) * per]), training=False)
            new_states += list(state) if isinstance(state, (list, tuple)) else [state]
        return self._logits(x, training=False), new_states

    def call(self, ids, training=None):
        return self.forward(ids, None, training=training)[0]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Mean next-token cross-entropy over positions with weight 1 (padding has weight 0)."""
        nll = ops.sparse_categorical_crossentropy(y, ops.cast(y_pred, "float32"), from_logits=True)
        weight = ops.cast(ops.not_equal(y, 0) if sample_weight is None else sample_weight, "float32")
        loss = ops.sum(nll * weight) / ops.maximum(ops.sum(weight), 1.0)
        losses = self.losses
        if losses:
            loss = loss + ops.sum(losses)
        return scale_loss_for_distribution(loss)

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim, "units": list(self.units),
            "cell": self.cell, "tie_weights": self.tie_weights, "embedding_dropout": self.embedding_dropout,
            "input_dropout": self.input_dropout, "dropout": self.dropout, "output_dropout": self.output_dropout,
            "weight_drop": self.stack.weight_drop,
        })
        return config
