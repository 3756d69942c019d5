"""The translator's in-graph decoding and its SavedModel: source strings in, translations out.

`TranslatorModule` holds a trained `Seq2SeqModel` and its source and target
`TextEncoder`s, and exposes `tf.function`s with dynamic input signatures (each
traced once, then serving every batch size and parameter value):

- `translate(texts, beam_size, length_penalty)`: beam search (`serving_default`);
  returns `translations` (B,), `scores` (B,), `nbest` (B, K) strings and
  `nbest_scores` (B, K), best first;
- `translate_greedy(texts)`: greedy search; `translations` and `log_probs`.

The source is tokenized in-graph and read once; the decoder then advances one
token per step with its state and the attention memory carried. Output is
limited to `max_length_ratio * source tokens + max_length_offset` tokens per
sentence. Loading needs `import tensorflow_text` (SentencePiece ops).
"""

import tensorflow as tf

from nlpseq.decoding import beam_search, sample

_TEXTS = tf.TensorSpec([None], tf.string, name="texts")


class TranslatorModule(tf.Module):
    """In-graph translation for a seq2seq model (TensorFlow backend).

    Args:
        model: a built `Seq2SeqModel`.
        source_encoder: `TextEncoder` of the source language.
        target_encoder: `TextEncoder` of the target language.
        max_length_ratio: output tokens allowed per source token.
        max_length_offset: output tokens allowed on top of that.
    """

    def __init__(self, model, source_encoder, target_encoder, max_length_ratio=2.0, max_length_offset=10):
        super().__init__(name="nlpseq_translator")
        self.model = model
        self._source = source_encoder
        self._target = target_encoder
        self.max_length_ratio = float(max_length_ratio)
        self.max_length_offset = int(max_length_offset)
        # An attribute puts the tokenizers' tables into the saved object graph.
        self.resources = source_encoder.tf_resources() + target_encoder.tf_resources()
        penalty = [0.0] * target_encoder.vocab_size
        for banned in (target_encoder.pad_id, target_encoder.bos_id):
            penalty[banned] = -1e9  # never targets in training
        self.penalty = tf.constant(penalty, tf.float32)

    def _step(self, ids, states, constants):
        logits, states = self.model.step(ids, list(states), constants)
        return tf.cast(logits, tf.float32) + self.penalty, states

    def encode_source(self, texts):
        """Source ids (B, S) with `<eos>` after each sentence, 0-padded, and their lengths."""
        ids = self._source.tf_encode(texts)
        eos = tf.fill([ids.nrows(), 1], tf.constant(self._source.eos_id, tf.int32))
        ids = tf.concat([ids, tf.RaggedTensor.from_tensor(eos)], axis=1)
        return ids.to_tensor(default_value=0), tf.cast(ids.row_lengths(), tf.int32)

    def _start(self, texts):
        source, lengths = self.encode_source(texts)
        constants, states = self.model.encode(source, training=False)
        start = tf.fill([tf.shape(source)[0]], tf.constant(self._target.bos_id, tf.int32))
        limits = tf.cast(tf.math.ceil(self.max_length_ratio * tf.cast(lengths, tf.float32)), tf.int32)
        limits += self.max_length_offset
        return start, states, constants, limits

    @tf.function(input_signature=[_TEXTS, tf.TensorSpec([], tf.int32, name="beam_size"),
                                  tf.TensorSpec([], tf.float32, name="length_penalty")])
    def translate(self, texts, beam_size, length_penalty):
        start, states, constants, limits = self._start(texts)
        ids, _, scores = beam_search(self._step, start, states, constants=constants, beam_size=beam_size,
                                     max_new_tokens=tf.reduce_max(tf.concat([limits, [0]], 0)),
                                     eos_id=self._target.eos_id, length_penalty=length_penalty,
                                     max_lengths=limits)
        batch, k = tf.shape(ids)[0], tf.shape(ids)[1]
        nbest = tf.reshape(self._target.tf_decode(tf.reshape(ids, [batch * k, -1])), [batch, k])
        return {"translations": nbest[:, 0], "scores": scores[:, 0], "nbest": nbest, "nbest_scores": scores}

    @tf.function(input_signature=[_TEXTS])
    def translate_greedy(self, texts):
        start, states, constants, limits = self._start(texts)
        ids, _, log_probs = sample(self._step, start, states, constants=constants,
                                   max_new_tokens=tf.reduce_max(tf.concat([limits, [0]], 0)),
                                   eos_id=self._target.eos_id, strategy="greedy", max_lengths=limits)
        return {"translations": self._target.tf_decode(ids), "log_probs": log_probs}


def export_translator(model, source_encoder, target_encoder, path, **limits):
    """Writes the translator SavedModel to `path` (which must not exist yet).

    Args:
        model: a built `Seq2SeqModel`.
        source_encoder: its source `TextEncoder`.
        target_encoder: its target `TextEncoder`.
        path: target directory.
        **limits: `max_length_ratio`, `max_length_offset` (see `TranslatorModule`).
    """
    module = TranslatorModule(model, source_encoder, target_encoder, **limits)
    beam = module.translate.get_concrete_function()
    signatures = {"serving_default": beam, "translate": beam,
                  "translate_greedy": module.translate_greedy.get_concrete_function()}
    tf.saved_model.save(module, str(path), signatures=signatures)
