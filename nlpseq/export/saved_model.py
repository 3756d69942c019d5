"""The tagger's TensorFlow SavedModel: raw strings in, words and tags out, all in-graph.

Signatures (all return `words` and `tags` as (B, T) strings padded with "",
and `lengths` (B,) int32):

- `serving_default` / `tag_text(texts)`: raw text, tokenized in-graph with the
  rules of `nlpseq.tokenizers.words` (punctuation split off word edges).
- `tag_pretokenized(texts)`: text already tokenized, words separated by spaces.
- `tag_tokens(tokens)`: a (B, T) string tensor of words padded with "".

Loading needs `import tensorflow_text` first (its ops may be in the graph).
With `weights_dtype="float16"` the weights are stored in 16 bits and read cast
to float32 (`nlpseq.export.stored_weights`); "int8" stores the word table as
int8 codes and the other weights so.
"""

import tensorflow as tf

from nlpseq.export.stored_weights import StoredWeights, reads_stored_weights
from nlpseq.tokenizers.words import tf_tokenize


class TaggerServingModule(tf.Module):
    """Wraps a SequenceTagger and its features for export.

    Args:
        model: a built SequenceTagger (TensorFlow backend).
        features: its TaggingFeatures.
        weights_dtype: how the weights are stored, "float32", "float16" or "int8".
    """

    def __init__(self, model, features, weights_dtype="float32"):
        super().__init__(name="nlpseq_tagger")
        self.stored = StoredWeights(model, weights_dtype)
        self._features = features
        # Attributes make the tables part of the saved object graph.
        self.tables = dict(features.tf_tables())
        self.tag_names = tf.constant(features.tags)

    # tag_text and tag_pretokenized call tag_tokens, so the network is traced once and stored once
    # in the SavedModel (three separate traces made export three times slower).
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="tokens")])
    @reads_stored_weights
    def tag_tokens(self, tokens):
        # An all-empty batch has zero words; give it one padding column so the
        # RNN never runs over an empty time axis.
        width = tf.shape(tokens)[1]
        tokens = tf.pad(tokens, [[0, 0], [0, tf.maximum(1 - width, 0)]], constant_values="")
        present = tf.not_equal(tokens, "")
        inputs = self._features.tf_encode(tokens)
        tag_ids = self.stored.network.decode(inputs)
        tags = tf.where(present, tf.gather(self.tag_names, tag_ids), "")
        lengths = tf.reduce_sum(tf.cast(present, tf.int32), axis=1)
        return {"words": tokens, "tags": tags, "lengths": lengths}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def tag_text(self, texts):
        return self.tag_tokens(tf_tokenize(texts).to_tensor(default_value=""))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def tag_pretokenized(self, texts):
        return self.tag_tokens(tf.strings.split(texts).to_tensor(default_value=""))


def export_tagger(model, features, path, weights_dtype="float32"):
    """Writes the tagger SavedModel to `path` (which must not exist yet).

    Args:
        model: a built SequenceTagger.
        features: its TaggingFeatures.
        path: target directory.
        weights_dtype: how the weights are stored, "float32", "float16" or "int8".
    """
    module = TaggerServingModule(model, features, weights_dtype)
    signatures = {
        "serving_default": module.tag_text.get_concrete_function(),
        "tag_text": module.tag_text.get_concrete_function(),
        "tag_pretokenized": module.tag_pretokenized.get_concrete_function(),
        "tag_tokens": module.tag_tokens.get_concrete_function(),
    }
    tf.saved_model.save(module, str(path), signatures=signatures)
