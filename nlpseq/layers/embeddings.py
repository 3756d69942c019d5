"""Token feature layers: word, character (CNN / BiLSTM), subword-pooled and casing embeddings."""

import keras
import numpy as np
from keras import ops

from nlpseq.errors import ConfigError, InputError


# Casing classes are defined (in Python and in-graph) by `nlpseq.data.features`;
# the layer only needs their number: padding plus seven classes.
NUM_CASING_CLASSES = 8

# How WordEmbedding holds its matrix: floats (trainable), or int8 codes with a step per row.
WORD_STORAGES = ("float", "int8")


@keras.saving.register_keras_serializable(package="nlpseq")
class WordEmbedding(keras.layers.Layer):
    """Word-id embedding that can be initialized from pretrained vectors.

    Args:
        vocab_size: number of word ids V (id 0 is padding when `mask_zero`).
        dim: embedding size.
        mask_zero: whether id 0 is padding and produces a Keras mask.
        trainable_embeddings: False freezes the matrix (e.g. pretrained vectors).
        embeddings_initializer: initializer of the (V, dim) matrix.
        storage: "float" (a float matrix, trainable) or "int8": the matrix is held
            as int8 codes with one step per row (row i = codes[i] * steps[i]),
            a quarter of float32's bytes; such a layer is for inference (its
            values come from `set_int8`, see `nlpseq.export.half_precision`).
        **kwargs: base `keras.layers.Layer` arguments.

    Returns:
        `call(ids)` on (B, T) int ids returns (B, T, dim) vectors.

    Masking:
        With `mask_zero`, outputs the mask `ids != 0`.

    Example:
        >>> emb = nlpseq.layers.WordEmbedding(100, 8)
        >>> emb.build((None, None))
        >>> emb.set_pretrained(np.zeros((100, 8), "float32"))
        >>> emb(np.array([[4, 2, 0]])).shape
        (1, 3, 8)
    """

    def __init__(
        self,
        vocab_size,
        dim,
        mask_zero=True,
        trainable_embeddings=True,
        embeddings_initializer="uniform",
        storage="float",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if storage not in WORD_STORAGES:
            raise ConfigError(f"word embedding storage must be one of {', '.join(WORD_STORAGES)}, got {storage!r}")
        self.vocab_size = int(vocab_size)
        self.dim = int(dim)
        self.mask_zero = bool(mask_zero)
        self.trainable_embeddings = bool(trainable_embeddings)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.storage = storage
        self.embedding = None
        if storage == "float":
            self.embedding = keras.layers.Embedding(
                self.vocab_size,
                self.dim,
                embeddings_initializer=self.embeddings_initializer,
                mask_zero=self.mask_zero,
                trainable=self.trainable_embeddings,
                dtype=self.dtype_policy,
                name="embedding",
            )
        self.supports_masking = True

    def build(self, input_shape):
        if self.embedding is not None:
            self.embedding.build(input_shape)
        else:
            self.codes = self.add_weight(shape=(self.vocab_size, self.dim), dtype="int8", initializer="zeros",
                                         trainable=False, name="codes")
            self.steps = self.add_weight(shape=(self.vocab_size,), initializer="zeros", trainable=False,
                                         name="steps")
        self.built = True

    @property
    def embeddings(self):
        """The (V, dim) embedding variable (float storage only)."""
        if self.embedding is None:
            raise InputError("an int8 word embedding has no float matrix; use table()")
        return self.embedding.embeddings

    def table(self):
        """The (V, dim) float values of the matrix, whatever the storage (a NumPy array)."""
        if not self.built:
            self.build((None, None))
        if self.embedding is not None:
            return ops.convert_to_numpy(self.embedding.embeddings)
        steps = ops.convert_to_numpy(self.steps)
        return ops.convert_to_numpy(self.codes).astype(np.float32) * steps[:, None]

    def set_int8(self, codes, steps):
        """Sets the codes and per-row steps of an int8 layer (`half_precision.quantize_rows_int8`).

        Args:
            codes: int8 array (vocab_size, dim).
            steps: float array (vocab_size,).

        Raises:
            InputError: the layer stores floats, or a shape is wrong.
        """
        if self.embedding is not None:
            raise InputError("set_int8 needs a word embedding built with storage='int8'")
        if np.shape(codes) != (self.vocab_size, self.dim) or np.shape(steps) != (self.vocab_size,):
            raise InputError(f"int8 codes/steps have shapes {np.shape(codes)}/{np.shape(steps)}, "
                             f"expected ({self.vocab_size}, {self.dim})/({self.vocab_size},)")
        if not self.built:
            self.build((None, None))
        self.codes.assign(np.asarray(codes, np.int8))
        self.steps.assign(np.asarray(steps, np.float32))

    def set_pretrained(self, matrix):
        """Overwrites the embedding matrix with pretrained vectors.

        Args:
            matrix: a (vocab_size, dim) array (row i is word id i).

        Raises:
            InputError: when the matrix has the wrong shape.
        """
        matrix = np.asarray(matrix)
        if matrix.shape != (self.vocab_size, self.dim):
            raise InputError(
                f"pretrained matrix has shape {matrix.shape}, "
                f"expected ({self.vocab_size}, {self.dim})"
            )
        if not self.built:
            self.build((None, None))
        self.embeddings.assign(matrix.astype(self.embeddings.dtype))

    def call(self, inputs):
        if self.embedding is not None:
            return self.embedding(inputs)
        ids = ops.cast(inputs, "int32")
        # Gather the int8 rows first: only the looked-up rows are widened to floats.
        rows = ops.cast(ops.take(self.codes, ids, axis=0), self.compute_dtype)
        return rows * ops.expand_dims(ops.cast(ops.take(self.steps, ids, axis=0), self.compute_dtype), -1)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "dim": self.dim,
                "mask_zero": self.mask_zero,
                "trainable_embeddings": self.trainable_embeddings,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
                "storage": self.storage,
            }
        )
        return config


def _word_mask(char_ids):
    """(B, T) mask of words that have at least one non-pad character."""
    return ops.any(ops.not_equal(char_ids, 0), axis=-1)


@keras.saving.register_keras_serializable(package="nlpseq")
class CharCNNEmbedding(keras.layers.Layer):
    """Character CNN word features: embed chars, convolve, max-pool over real chars.

    Args:
        char_vocab_size: number of character ids (0 is padding).
        char_dim: character embedding size.
        filters: number of convolution filters (the output size).
        kernel_size: convolution width in characters.
        activation: activation of the convolution.
        **kwargs: base `keras.layers.Layer` arguments.

    Returns:
        `call(char_ids)` on (B, T, C) int ids returns (B, T, filters); words
        made only of padding give zeros.

    Masking:
        Ignores any incoming mask; outputs the word mask "has a non-pad char".

    Example:
        >>> layer = nlpseq.layers.CharCNNEmbedding(50, char_dim=8, filters=16)
        >>> layer(np.ones((2, 5, 7), "int32")).shape
        (2, 5, 16)
    """

    def __init__(
        self, char_vocab_size, char_dim=25, filters=50, kernel_size=3, activation="tanh", **kwargs
    ):
        super().__init__(**kwargs)
        self.char_vocab_size = int(char_vocab_size)
        self.char_dim = int(char_dim)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.activation = keras.activations.get(activation)
        self.char_embedding = keras.layers.Embedding(
            self.char_vocab_size, self.char_dim, dtype=self.dtype_policy, name="char_embedding"
        )
        # A (1, k) 2-D convolution is a 1-D convolution over each word's chars
        # and avoids reshaping (B, T, C) to (B*T, C) with dynamic sizes.
        self.conv = keras.layers.Conv2D(
            self.filters,
            (1, self.kernel_size),
            padding="same",
            activation=self.activation,
            dtype=self.dtype_policy,
            name="conv",
        )
        self.supports_masking = True

    def build(self, input_shape):
        self.char_embedding.build(input_shape)
        self.conv.build(tuple(input_shape) + (self.char_dim,))
        self.built = True

    def call(self, inputs, mask=None, training=None):
        if not training and keras.backend.backend() == "tensorflow":
            return self._pool_real_chars_tf(inputs)
        char_mask = ops.expand_dims(ops.not_equal(inputs, 0), -1)  # (B, T, C, 1)
        # Zero pad embeddings so "same" padding and pad chars look alike.
        embedded = self.char_embedding(inputs) * ops.cast(char_mask, self.compute_dtype)
        features = self.conv(embedded)  # (B, T, C, filters)
        lowest = ops.full_like(features, -1e4)
        pooled = ops.max(ops.where(char_mask, features, lowest), axis=2)
        has_chars = ops.expand_dims(_word_mask(inputs), -1)
        return ops.where(has_chars, pooled, ops.zeros_like(pooled))

    def _pool_real_chars_tf(self, inputs):
        """Inference on TensorFlow: the same numbers as `call`, computed at real characters only.

        Why: a batch's char tensor is padded to its longest word (most words are far
        shorter) and to its longest sentence, so most (B, T, C) cells are padding;
        and embedding then convolving is linear in a one-hot input, so each kernel
        tap is a (vocab, filters) table and the convolution is a sum of row lookups.
        Here the lookups run only at the real characters and a segment max pools
        them per word: ~3x faster than the dense convolution when tagging.
        """
        import tensorflow as tf

        ids = tf.cast(inputs, tf.int32)
        batch, steps = tf.shape(ids)[0], tf.shape(ids)[1]
        taps = self.kernel_size
        # "same" padding: TensorFlow and Keras put the odd pad column on the right.
        left = (taps - 1) // 2
        padded = tf.pad(ids, [[0, 0], [0, 0], [left, taps - 1 - left]])
        real = tf.where(tf.not_equal(ids, 0))  # (N, 3) positions of real characters
        embeddings = self.char_embedding.embeddings
        # Row 0 (padding) contributes nothing, as the zeroed pad embeddings do in `call`.
        embeddings = tf.concat([tf.zeros_like(embeddings[:1]), embeddings[1:]], axis=0)
        tables = tf.cast(tf.einsum("vd,kdf->kvf", embeddings, self.conv.kernel[0]), self.compute_dtype)
        total = tf.cast(self.conv.bias, self.compute_dtype)
        for tap in range(taps):
            # Output position c reads input c - left + tap, i.e. padded column c + tap.
            neighbours = tf.gather_nd(padded, real + tf.constant([0, 0, tap], tf.int64))
            total = total + tf.gather(tables[tap], neighbours)
        features = self.activation(total)  # (N, filters)
        word = real[:, 0] * tf.cast(steps, tf.int64) + real[:, 1]
        pooled = tf.math.unsorted_segment_max(features, word, tf.cast(batch * steps, tf.int64))
        pooled = tf.reshape(pooled, [batch, steps, self.filters])
        # Words without characters are empty segments (the lowest float); they give zeros.
        return tf.where(_word_mask(ids)[..., None], pooled, tf.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return _word_mask(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:2]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "char_vocab_size": self.char_vocab_size,
                "char_dim": self.char_dim,
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "activation": keras.activations.serialize(self.activation),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="nlpseq")
class CharBiLSTMEmbedding(keras.layers.Layer):
    """Character BiLSTM word features: final forward and backward states per word.

    Args:
        char_vocab_size: number of character ids (0 is padding).
        char_dim: character embedding size.
        units: LSTM size per direction (output is 2 * units).
        **kwargs: base `keras.layers.Layer` arguments.

    Returns:
        `call(char_ids)` on (B, T, C) int ids, chars right-padded with 0,
        returns (B, T, 2 * units); words made only of padding give zeros.

    Masking:
        Ignores any incoming mask; outputs the word mask "has a non-pad char".
        Inside, the LSTM sees the char mask, with the first char of an empty
        word kept so no sequence is fully masked (cuDNN rejects those).

    Example:
        >>> layer = nlpseq.layers.CharBiLSTMEmbedding(50, char_dim=8, units=4)
        >>> layer(np.ones((2, 5, 7), "int32")).shape
        (2, 5, 8)
    """

    def __init__(self, char_vocab_size, char_dim=25, units=25, **kwargs):
        super().__init__(**kwargs)
        self.char_vocab_size = int(char_vocab_size)
        self.char_dim = int(char_dim)
        self.units = int(units)
        self.char_embedding = keras.layers.Embedding(
            self.char_vocab_size, self.char_dim, dtype=self.dtype_policy, name="char_embedding"
        )
        self.bilstm = keras.layers.Bidirectional(
            keras.layers.LSTM(self.units, dtype=self.dtype_policy),
            dtype=self.dtype_policy,
            name="char_bilstm",
        )
        self.supports_masking = True

    def build(self, input_shape):
        self.char_embedding.build(input_shape)
        self.bilstm.build((None, input_shape[-1], self.char_dim))
        self.built = True

    def call(self, inputs, mask=None, training=None):
        shape = ops.shape(inputs)
        words = ops.reshape(inputs, (-1, shape[2]))  # (B*T, C)
        has_chars = ops.any(ops.not_equal(words, 0), axis=-1)
        first = ops.expand_dims(ops.equal(ops.arange(shape[2]), 0), 0)
        lstm_mask = ops.logical_or(ops.not_equal(words, 0), first)
        states = self.bilstm(self.char_embedding(words), mask=lstm_mask, training=training)
        states = ops.where(ops.expand_dims(has_chars, -1), states, ops.zeros_like(states))
        return ops.reshape(states, (shape[0], shape[1], 2 * self.units))

    def compute_mask(self, inputs, mask=None):
        return _word_mask(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:2]) + (2 * self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "char_vocab_size": self.char_vocab_size,
                "char_dim": self.char_dim,
                "units": self.units,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="nlpseq")
class SubwordPooledEmbedding(keras.layers.Layer):
    """Embeds subword pieces and pools them into one vector per word.

    Args:
        vocab_size: number of piece ids.
        dim: embedding size.
        mode: "first" (the word's first piece) or "mean" (mean of its pieces).
        **kwargs: base `keras.layers.Layer` arguments.

    Returns:
        `call([piece_ids, word_index, words])` or
        `call([piece_ids, word_index], num_words=T)` returns (B, T, dim).
        `piece_ids` (B, P) int; `word_index` (B, P) int, the word each piece
        belongs to, -1 for padding; `words` any tensor (B, T, ...) whose
        second dimension is the number of words T (e.g. the word ids; it may
        be dynamic). Words without pieces get zeros.

    Masking:
        Outputs the word mask "has at least one piece".

    Example:
        >>> layer = nlpseq.layers.SubwordPooledEmbedding(100, 8, mode="mean")
        >>> pieces = np.array([[5, 6, 7, 0]])
        >>> word_index = np.array([[0, 0, 1, -1]])
        >>> layer([pieces, word_index], num_words=3).shape
        (1, 3, 8)
    """

    def __init__(self, vocab_size, dim, mode="first", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("first", "mean"):
            raise ConfigError(
                f"SubwordPooledEmbedding mode must be 'first' or 'mean', got {mode!r}"
            )
        self.vocab_size = int(vocab_size)
        self.dim = int(dim)
        self.mode = mode
        self.embedding = keras.layers.Embedding(
            self.vocab_size, self.dim, dtype=self.dtype_policy, name="piece_embedding"
        )
        self.supports_masking = True

    def build(self, input_shape):
        self.embedding.build(input_shape[0])
        self.built = True

    @staticmethod
    def _num_words(inputs, num_words):
        if num_words is not None:
            return num_words
        if len(inputs) < 3:
            raise InputError(
                "SubwordPooledEmbedding needs the number of words: pass a third "
                "input shaped (B, T, ...) or num_words=T"
            )
        return ops.shape(inputs[2])[1]

    @staticmethod
    def _membership(word_index, num_words):
        """(B, P, T) float: 1 where piece p belongs to word t (-1 matches none)."""
        return ops.one_hot(ops.cast(word_index, "int32"), num_words)

    def call(self, inputs, num_words=None):
        piece_ids, word_index = inputs[0], inputs[1]
        steps = self._num_words(inputs, num_words)
        vectors = self.embedding(piece_ids)
        member = ops.cast(self._membership(word_index, steps), vectors.dtype)
        counts = ops.sum(member, axis=1)  # (B, T)
        if self.mode == "mean":
            pooled = ops.einsum("bpt,bpd->btd", member, vectors)
            return pooled / ops.expand_dims(ops.maximum(counts, 1.0), -1)
        # argmax returns the first maximal position, i.e. the word's first piece.
        first = ops.argmax(member, axis=1)  # (B, T)
        select = ops.one_hot(first, ops.shape(member)[1], dtype=vectors.dtype)  # (B, T, P)
        select = select * ops.expand_dims(ops.cast(counts > 0, vectors.dtype), -1)
        return ops.matmul(select, vectors)

    def compute_mask(self, inputs, mask=None):
        if len(inputs) < 3:
            # The word count is a call argument Keras does not pass here.
            return None
        member = self._membership(inputs[1], ops.shape(inputs[2])[1])
        return ops.sum(member, axis=1) > 0

    def get_config(self):
        config = super().get_config()
        config.update({"vocab_size": self.vocab_size, "dim": self.dim, "mode": self.mode})
        return config


@keras.saving.register_keras_serializable(package="nlpseq")
class CasingEmbedding(keras.layers.Layer):
    """Embedding of word casing classes (see `nlpseq.data.features.casing_class`).

    Args:
        dim: embedding size.
        **kwargs: base `keras.layers.Layer` arguments.

    Returns:
        `call(classes)` on (B, T) int casing ids returns (B, T, dim).

    Masking:
        Class 0 is padding; outputs the mask `classes != 0`.

    Example:
        >>> ids = np.array([[4, 3, 1]])  # from nlpseq.data.features.casing_class
        >>> nlpseq.layers.CasingEmbedding(4)(ids).shape
        (1, 3, 4)
    """

    def __init__(self, dim=4, **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)
        self.embedding = keras.layers.Embedding(
            NUM_CASING_CLASSES, self.dim, mask_zero=True, dtype=self.dtype_policy, name="embedding"
        )
        self.supports_masking = True

    def build(self, input_shape):
        self.embedding.build(input_shape)
        self.built = True

    def call(self, inputs):
        return self.embedding(inputs)

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.dim,)

    def get_config(self):
        config = super().get_config()
        config.update({"dim": self.dim})
        return config
