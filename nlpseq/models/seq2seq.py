"""Seq2SeqModel: BiRNN encoder + attention decoder with input feeding (Luong et al., 2015; OpenNMT)."""

import keras
from keras import ops

from keras.src.losses.loss import scale_loss_for_distribution  # no public alias in Keras 3.15

from nlpseq.checks import check_rate
from nlpseq.errors import ConfigError
from nlpseq.layers.attention import AttentionDecoderCell
from nlpseq.layers.rnn_encoder import RNNEncoder


@keras.saving.register_keras_serializable(package="nlpseq")
class Seq2SeqModel(keras.Model):
    """An attentional encoder-decoder, composed from the shared blocks.

    Inputs are a dict: `source` (B, S) source ids (0 = padding, ending in
    `<eos>`) and `target_in` (B, T) decoder inputs (`<s>` + target ids, the
    teacher-forcing shift). The model returns (B, T, V) logits of the next
    target token. `encode` and `step` serve token-by-token decoding
    (`nlpseq.decoding`).

    Args:
        source_vocab_size: source ids (padding included).
        target_vocab_size: target ids (padding included).
        embedding_dim: source and target embedding size.
        encoder_units: units per direction of the bidirectional encoder.
        encoder_layers: stacked encoder layers.
        decoder_units: decoder hidden size (and attentional vector size).
        decoder_layers: stacked decoder layers.
        cell: "lstm" or "gru" (encoder and decoder).
        attention: "dot" or "general" (Luong) or "bahdanau" (additive).
        dropout: on embeddings, between layers and before the output layer.
        label_smoothing: share of probability mass spread over the vocabulary
            in the training loss (0 = plain cross-entropy).
        tie_embeddings: share the target embedding matrix with the output
            layer (a projection maps the decoder down when the sizes differ).
        share_embeddings: one embedding table for source and target (a joint
            vocabulary; the vocabulary sizes must be equal).

    Example:
        >>> model = Seq2SeqModel(50, 60, embedding_dim=8, encoder_units=8, decoder_units=8)
        >>> model({"source": np.ones((2, 5), "int32"), "target_in": np.ones((2, 4), "int32")}).shape
        (2, 4, 60)
    """

    def __init__(self, source_vocab_size, target_vocab_size, embedding_dim=256, encoder_units=256,
                 encoder_layers=1, decoder_units=512, decoder_layers=1, cell="lstm", attention="general",
                 dropout=0.3, label_smoothing=0.0, tie_embeddings=False, share_embeddings=False, **kwargs):
        super().__init__(**kwargs)
        if share_embeddings and int(source_vocab_size) != int(target_vocab_size):
            raise ConfigError("share_embeddings needs one joint vocabulary (equal source and target sizes)")
        check_rate("label_smoothing", label_smoothing)
        self.source_vocab_size = int(source_vocab_size)
        self.target_vocab_size = int(target_vocab_size)
        self.embedding_dim = int(embedding_dim)
        self.encoder_units = int(encoder_units)
        self.encoder_layers = int(encoder_layers)
        self.decoder_units = int(decoder_units)
        self.decoder_layers = int(decoder_layers)
        self.cell = cell
        self.attention = attention
        self.dropout = float(dropout)
        self.label_smoothing = float(label_smoothing)
        self.tie_embeddings = bool(tie_embeddings)
        self.share_embeddings = bool(share_embeddings)

        init = keras.initializers.RandomUniform(-0.1, 0.1)
        self.source_embedding = keras.layers.Embedding(self.source_vocab_size, self.embedding_dim,
                                                       embeddings_initializer=init, name="source_embedding")
        self.target_embedding = self.source_embedding if self.share_embeddings else keras.layers.Embedding(
            self.target_vocab_size, self.embedding_dim, embeddings_initializer=init, name="target_embedding")
        self.encoder = RNNEncoder(self.encoder_units, cell=cell, num_layers=self.encoder_layers, bidirectional=True,
                                  dropout=self.dropout, return_state=True, name="encoder")
        self.decoder_cell = AttentionDecoderCell(self.decoder_units, cell=cell, num_layers=self.decoder_layers,
                                                 attention=attention, dropout=self.dropout,
                                                 memory_dim=2 * self.encoder_units, name="decoder_cell")
        self.decoder = keras.layers.RNN(self.decoder_cell, return_sequences=True, name="decoder")
        # The bridge: one dense layer per decoder state, from the encoder's final
        # forward and backward states of the same kind (h, or c for an LSTM).
        self.bridge = [keras.layers.Dense(self.decoder_units, activation="tanh", name=f"bridge_{i}")
                       for i in range(self.decoder_cell.per_layer * self.decoder_layers)]
        self.input_dropout = keras.layers.Dropout(self.dropout, name="input_dropout")
        self.output_dropout = keras.layers.Dropout(self.dropout, name="output_dropout")
        self.projection = None
        if self.tie_embeddings and self.decoder_units != self.embedding_dim:
            self.projection = keras.layers.Dense(self.embedding_dim, use_bias=False, name="projection")
        self.output_layer = None if self.tie_embeddings else keras.layers.Dense(self.target_vocab_size,
                                                                                  name="output")

    def build(self, input_shape=None):
        batch = None
        self.source_embedding.build((batch, None))
        if not self.share_embeddings:
            self.target_embedding.build((batch, None))
        self.encoder.build((batch, None, self.embedding_dim))
        for dense in self.bridge:
            dense.build((batch, 2 * self.encoder_units))
        self.decoder_cell.build((batch, self.embedding_dim))
        self.decoder.build((batch, None, self.embedding_dim))
        top = (batch, self.decoder_units)
        if self.projection is not None:
            self.projection.build(top)
        if self.output_layer is not None:
            self.output_layer.build(top)
        else:
            self.output_bias = self.add_weight(shape=(self.target_vocab_size,), initializer="zeros",
                                               name="output_bias")
        self.built = True

    # --- the network ----------------------------------------------------------------------
    def encode(self, source, training=None):
        """Reads the source: `(memory, keys, mask)` for attention and the decoder's initial states.

        Args:
            source: (B, S) source ids, 0-padded.
            training: enables dropout.

        Returns:
            `((memory (B, S, 2U), keys, mask (B, S)), states)`: the attention
            constants and the list of initial decoder states (the last entry
            is the zero attentional vector fed at the first step).
        """
        source = ops.cast(source, "int32")
        mask = ops.not_equal(source, 0)
        x = self.input_dropout(self.source_embedding(source), training=training)
        memory, final = self.encoder(x, mask=mask, training=training)
        per = self.decoder_cell.per_layer
        # RNNEncoder returns [forward states..., backward states...] of its last layer.
        forward, backward = final[:per], final[per:]
        states = []
        for layer in range(self.decoder_layers):
            for kind in range(per):
                bridge = self.bridge[layer * per + kind]
                states.append(bridge(ops.concatenate([forward[kind], backward[kind]], axis=-1)))
        states.append(ops.zeros((ops.shape(source)[0], self.decoder_units), dtype=memory.dtype))
        keys = self.decoder_cell.attention.keys(memory)
        return (memory, keys, mask), states

    def _logits(self, attentional, training=None):
        hidden = self.output_dropout(attentional, training=training)
        if self.output_layer is not None:
            return self.output_layer(hidden)
        if self.projection is not None:
            hidden = self.projection(hidden)
        return ops.matmul(hidden, ops.transpose(self.target_embedding.embeddings)) + self.output_bias

    def call(self, inputs, training=None):
        constants, states = self.encode(inputs["source"], training=training)
        self.decoder_cell.set_memory(*constants)
        target = ops.cast(inputs["target_in"], "int32")
        x = self.input_dropout(self.target_embedding(target), training=training)
        outputs = self.decoder(x, initial_state=states, training=training)
        return self._logits(outputs, training=training)

    def step(self, ids, states, constants):
        """One decoding step: logits (N, V) of the token after `ids` (N,), and the new states."""
        self.decoder_cell.set_memory(*constants)
        x = self.target_embedding(ops.cast(ids, "int32"))
        attentional, states = self.decoder_cell(x, list(states), training=False)
        return self._logits(attentional), states

    def attention_weights(self, source, target_in):
        """Attention weights (B, T, S) of a teacher-forced pass (e.g. a translation and its source)."""
        constants, states = self.encode(source, training=False)
        self.decoder_cell.set_memory(*constants)
        x = self.target_embedding(ops.cast(target_in, "int32"))
        weights = []
        for t in range(int(ops.shape(target_in)[1])):
            _, states, w = self.decoder_cell.step(x[:, t], states, training=False)
            weights.append(w)
        return ops.stack(weights, axis=1)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Mean token cross-entropy (with label smoothing) over the non-padding targets."""
        targets = ops.cast(y, "int32")
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        nll = -ops.take_along_axis(log_probs, ops.expand_dims(targets, -1), axis=-1)[..., 0]
        if self.label_smoothing > 0:
            # (1 - e) * NLL + e * cross-entropy against the uniform distribution.
            uniform = -ops.mean(log_probs, axis=-1)
            nll = (1.0 - self.label_smoothing) * nll + self.label_smoothing * uniform
        weight = ops.cast(ops.not_equal(targets, 0), "float32")
        loss = ops.sum(nll * weight) / ops.maximum(ops.sum(weight), 1.0)
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return scale_loss_for_distribution(loss)

    def get_config(self):
        config = super().get_config()
        config.update({
            "source_vocab_size": self.source_vocab_size, "target_vocab_size": self.target_vocab_size,
            "embedding_dim": self.embedding_dim, "encoder_units": self.encoder_units,
            "encoder_layers": self.encoder_layers, "decoder_units": self.decoder_units,
            "decoder_layers": self.decoder_layers, "cell": self.cell, "attention": self.attention,
            "dropout": self.dropout, "label_smoothing": self.label_smoothing,
            "tie_embeddings": self.tie_embeddings, "share_embeddings": self.share_embeddings,
        })
        return config
