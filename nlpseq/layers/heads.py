"""Tagging heads: emission scores and the masked softmax loss."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="nlpseq")
class TagHead(keras.layers.Layer):
    """Dropout then a Dense projection to per-tag emission scores (logits).

    Args:
        num_tags: number of tags K.
        dropout: dropout rate applied to the features before the projection.
        **kwargs: base `keras.layers.Layer` arguments. Under mixed precision,
            pass `dtype="float32"` so the scores feeding the CRF or the
            softmax loss are float32.

    Returns:
        `call(features, training=None)` on (B, T, D) returns (B, T, K) scores.

    Masking:
        Propagates the incoming mask unchanged.

    Example:
        >>> head = nlpseq.layers.TagHead(9, dropout=0.5)
        >>> head(np.zeros((2, 5, 16), "float32")).shape
        (2, 5, 9)
    """

    def __init__(self, num_tags, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_tags = int(num_tags)
        self.dropout = float(dropout)
        self.drop = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name="dropout")
        self.dense = keras.layers.Dense(self.num_tags, dtype=self.dtype_policy, name="scores")
        self.supports_masking = True

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        x = self.drop(inputs, training=training) if self.dropout > 0 else inputs
        return self.dense(x)

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_tags,)

    def get_config(self):
        config = super().get_config()
        config.update({"num_tags": self.num_tags, "dropout": self.dropout})
        return config


def masked_softmax_cross_entropy(logits, tags, mask=None):
    """Softmax cross-entropy averaged over the unmasked tokens of a batch.

    Args:
        logits: (B, T, K) float scores.
        tags: (B, T) int gold tags; values at masked positions are ignored
            (padding such as -1 is fine).
        mask: (B, T) bool, or None for all tokens.

    Returns:
        A float32 scalar: the mean token loss; 0 when no token is unmasked.

    Example:
        >>> loss = nlpseq.layers.masked_softmax_cross_entropy(logits, tags, tags >= 0)
    """
    logits = ops.cast(logits, "float32")
    num_tags = ops.shape(logits)[-1]
    if mask is None:
        mask = ops.ones(ops.shape(logits)[:2], dtype="bool")
    weights = ops.cast(mask, "float32")
    safe_tags = ops.clip(ops.cast(tags, "int32"), 0, num_tags - 1)
    token_loss = ops.sparse_categorical_crossentropy(safe_tags, logits, from_logits=True)
    total = ops.sum(token_loss * weights)
    return total / ops.maximum(ops.sum(weights), 1.0)
