"""Contextual word features from a pretrained language model (Flair / TagLM style)."""

import keras
from keras import ops

from nlpseq.errors import ConfigError
from nlpseq.layers.rnn_stack import RecurrentStack

DIRECTIONS = ("forward", "backward")


def reverse_valid(values, lengths):
    """Reverses the first `lengths[b]` entries of each row, leaving the padding after them.

    Args:
        values: (B, P, ...) tensor.
        lengths: (B,) int valid lengths.

    Returns:
        The tensor with each row's valid prefix reversed. Applying it twice
        gives the input back.
    """
    steps = ops.arange(ops.shape(values)[1], dtype="int32")[None, :]
    lengths = ops.cast(lengths, "int32")[:, None]
    index = ops.where(steps < lengths, lengths - 1 - steps, steps)
    while len(index.shape) < len(values.shape):
        index = ops.expand_dims(index, -1)
    return ops.take_along_axis(values, ops.broadcast_to(index, ops.shape(values)), axis=1)


@keras.saving.register_keras_serializable(package="nlpseq")
class LMContextEmbedding(keras.layers.Layer):
    """A frozen language model read over a sentence's pieces, one state per word.

    The forward model reads the sentence left to right after an end-of-sentence
    token and gives each word its state after the word's last piece; the
    backward model (trained with `data.reverse`) reads right to left and gives
    each word its state after the word's first piece. So each word's vector
    sums up the text up to and including it from one side, as in Flair's
    contextual string embeddings (Akbik et al. 2018) and TagLM (Peters et al. 2017).

    The weights come from an `RNNLanguageModel` (`copy_from`) and are not
    trained with the tagger; no gradient flows into the language model.

    Args:
        vocab_size: the language model's piece vocabulary size.
        embedding_dim: its embedding size.
        units: its layer sizes (list of ints).
        cell: `lstm`, `gru` or `simple`.
        eos_id: its end-of-sentence id (the context before a sentence).
        direction: `forward` or `backward`.
        **kwargs: base `keras.layers.Layer` arguments.

    Returns:
        `call([pieces, piece_words, words])` returns (B, T, units[-1]):
        `pieces` (B, P) piece ids with 0 as padding, `piece_words` (B, P) the
        1-based word of each piece (0 for padding), `words` (B, T) the word ids
        (only their shape is used). Words without pieces get zeros.

    Example:
        >>> layer = nlpseq.layers.LMContextEmbedding(10, 4, [8], eos_id=3, direction="backward")
        >>> layer([np.array([[5, 6, 7, 0]]), np.array([[1, 1, 2, 0]]), np.ones((1, 2))]).shape
        (1, 2, 8)
    """

    def __init__(self, vocab_size, embedding_dim, units, cell="lstm", eos_id=3, direction="forward", **kwargs):
        super().__init__(**kwargs)
        if direction not in DIRECTIONS:
            raise ConfigError(f"LMContextEmbedding direction must be one of {DIRECTIONS}, got {direction!r}")
        self.vocab_size = int(vocab_size)
        self.embedding_dim = int(embedding_dim)
        self.units = [int(u) for u in (units if isinstance(units, (list, tuple)) else [units])]
        self.cell = cell
        self.eos_id = int(eos_id)
        self.direction = direction
        self.embedding = keras.layers.Embedding(self.vocab_size, self.embedding_dim, name="embedding")
        self.stack = RecurrentStack(self.units, cell=cell, name="rnn")
        self.trainable = False

    def build(self, input_shape):
        pieces_shape = tuple(input_shape[0])
        self.embedding.build(pieces_shape)
        self.stack.build(pieces_shape + (self.embedding_dim,))
        self.built = True

    def copy_from(self, lm):
        """Takes the embedding and recurrent weights of a trained `RNNLanguageModel`."""
        mine = self.embedding.weights + self.stack.weights
        theirs = lm.embedding.weights + lm.stack.weights
        if [tuple(w.shape) for w in mine] != [tuple(w.shape) for w in theirs]:
            raise ConfigError("the language model's weights do not fit this LMContextEmbedding")
        for target, source in zip(mine, theirs):
            target.assign(source)

    def call(self, inputs):
        pieces, piece_words = ops.cast(inputs[0], "int32"), ops.cast(inputs[1], "int32")
        num_words = ops.shape(inputs[2])[1]
        lengths = ops.sum(ops.cast(ops.not_equal(pieces, 0), "int32"), axis=1)
        if self.direction == "backward":
            pieces = reverse_valid(pieces, lengths)
        # The state after the context token, then after each piece; padding only
        # follows the pieces, so it changes no state that is read.
        eos = ops.full((ops.shape(pieces)[0], 1), self.eos_id, dtype="int32")
        states, _ = self.stack(self.embedding(ops.concatenate([eos, pieces], axis=1)), training=False)
        states = ops.stop_gradient(states[:, 1:])
        if self.direction == "backward":
            states = reverse_valid(states, lengths)
        # Which piece each word reads: its last (forward) or first (backward).
        member = ops.one_hot(piece_words - 1, num_words, dtype="int32")  # (B, P, T); padding (-1) matches none
        position = ops.arange(1, ops.shape(pieces)[1] + 1, dtype="int32")[None, :, None]
        if self.direction == "forward":
            chosen = ops.max(member * position, axis=1)  # (B, T): 1-based last piece, 0 for none
        else:
            chosen = ops.min(ops.where(member > 0, position, ops.shape(pieces)[1] + 1), axis=1)
            chosen = ops.where(chosen > ops.shape(pieces)[1], 0, chosen)
        found = ops.cast(chosen > 0, states.dtype)[:, :, None]
        index = ops.maximum(chosen - 1, 0)[:, :, None]
        index = ops.broadcast_to(index, (ops.shape(states)[0], num_words, self.units[-1]))
        picked = ops.take_along_axis(states, index, axis=1)
        return picked * found

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[2][:2]) + (self.units[-1],)

    def get_config(self):
        config = super().get_config()
        config.update({"vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim, "units": self.units,
                       "cell": self.cell, "eos_id": self.eos_id, "direction": self.direction})
        return config
