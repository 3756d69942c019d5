"""The language model's generation and scoring functions, in-graph, and its SavedModel.

`LMGenerator` holds a trained `RNNLanguageModel` and its `TextEncoder` and
exposes `tf.function`s with fully dynamic input signatures, so each is traced
once and then serves every batch size, prompt length and parameter value:

- `generate_greedy(prompts, max_new_tokens)`
- `generate_sample(prompts, max_new_tokens, temperature, top_k, top_p, seed)`:
  temperature sampling, with top-k (0 = off) and nucleus top-p (1 = off) filtering
- `generate_beam(prompts, max_new_tokens, beam_size, length_penalty)`
- `score(texts)`: log-probability of each text followed by `<eos>`

Each generate function returns `texts` (B,) continuations, `ids` (B, T) and
`lengths` (B,); sampling and greedy also return `log_probs`, beam search
`scores`. A prompt is read once to build the recurrent state (after an
`<eos>`, the start-of-sentence context of training), then one token is fed per
step: the prefix is never re-read. The SavedModel has these as signatures
(`serving_default` is `generate_sample`). Loading needs `import tensorflow_text`
first when the encoder is SentencePiece.

With `weights_dtype="float16"` the SavedModel stores the weights as float16
variables (half the bytes; see `nlpseq.export.half_precision`) and every
function reads them cast to float32 through a `keras.StatelessScope`, so the
arithmetic is float32 as in training.
"""

import tensorflow as tf

from nlpseq.decoding import beam_search, sample
from nlpseq.export.half_precision import check_weights_dtype
from nlpseq.export.stored_weights import StoredWeights, reads_stored_weights

_STRING_BATCH = tf.TensorSpec([None], tf.string, name="prompts")


def _scalar(dtype, name):
    return tf.TensorSpec([], dtype, name=name)


class LMGenerator(tf.Module):
    """In-graph generation and scoring for a language model (TensorFlow backend).

    Args:
        lm: a built `RNNLanguageModel`.
        encoder: its `TextEncoder`.
        weights_dtype: "float32" saves the network's own variables; "float16"
            saves float16 copies instead and computes with them cast up.
    """

    def __init__(self, lm, encoder, weights_dtype="float32"):
        super().__init__(name="nlpseq_lm")
        self.stored = StoredWeights(lm, check_weights_dtype(weights_dtype, "lm"))
        self._encoder = encoder
        self.eos_id = encoder.eos_id
        # An attribute puts the tokenizer's tables into the saved object graph.
        self.resources = encoder.tf_resources()
        # Padding and <s> are never targets in training; forbid them outright.
        banned = [encoder.pad_id] + ([encoder.bos_id] if encoder.bos_id >= 0 else [])
        penalty = [0.0] * encoder.vocab_size
        for i in banned:
            penalty[i] = -1e9
        self.penalty = tf.constant(penalty, tf.float32)

    # --- shared pieces -----------------------------------------------------------------
    @property
    def network(self):
        """The `RNNLanguageModel`."""
        return self.stored.network

    def _step(self, ids, states, constants=()):
        logits, states = self.network.step(ids, list(states))
        return tf.cast(logits, tf.float32) + self.penalty, states

    def _with_eos(self, texts):
        ids = self._encoder.tf_encode(texts)
        eos = tf.fill([ids.nrows(), 1], tf.constant(self.eos_id, tf.int32))
        return tf.concat([tf.RaggedTensor.from_tensor(eos), ids], axis=1)

    def _prime(self, prompts):
        """Reads the prompts: the first token to feed and the states before it."""
        ids = self._with_eos(prompts)
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        dense = ids.to_tensor(default_value=0)
        start = tf.gather(dense, lengths - 1, batch_dims=1)
        context = tf.sequence_mask(lengths - 1, maxlen=tf.shape(dense)[1])
        _, states = self.network.forward(dense, None, training=False, mask=context)
        return start, states

    def _texts(self, ids):
        return self._encoder.tf_decode(ids)

    # --- signatures ---------------------------------------------------------------------
    @tf.function(input_signature=[_STRING_BATCH, _scalar(tf.int32, "max_new_tokens")])
    @reads_stored_weights
    def generate_greedy(self, prompts, max_new_tokens):
        start, states = self._prime(prompts)
        ids, lengths, log_probs = sample(self._step, start, states, max_new_tokens=max_new_tokens,
                                         eos_id=self.eos_id, strategy="greedy")
        return {"texts": self._texts(ids), "ids": ids, "lengths": lengths, "log_probs": log_probs}

    @tf.function(input_signature=[
        _STRING_BATCH, _scalar(tf.int32, "max_new_tokens"), _scalar(tf.float32, "temperature"),
        _scalar(tf.int32, "top_k"), _scalar(tf.float32, "top_p"), _scalar(tf.int32, "seed")])
    @reads_stored_weights
    def generate_sample(self, prompts, max_new_tokens, temperature, top_k, top_p, seed):
        start, states = self._prime(prompts)
        ids, lengths, log_probs = sample(self._step, start, states, max_new_tokens=max_new_tokens,
                                         eos_id=self.eos_id, strategy="sample", temperature=temperature,
                                         top_k=top_k, top_p=top_p, seed=seed)
        return {"texts": self._texts(ids), "ids": ids, "lengths": lengths, "log_probs": log_probs}

    @tf.function(input_signature=[
        _STRING_BATCH, _scalar(tf.int32, "max_new_tokens"), _scalar(tf.int32, "beam_size"),
        _scalar(tf.float32, "length_penalty")])
    @reads_stored_weights
    def generate_beam(self, prompts, max_new_tokens, beam_size, length_penalty):
        start, states = self._prime(prompts)
        ids, lengths, scores = beam_search(self._step, start, states, beam_size=beam_size,
                                           max_new_tokens=max_new_tokens, eos_id=self.eos_id,
                                           length_penalty=length_penalty)
        best = ids[:, 0]
        return {"texts": self._texts(best), "ids": best, "lengths": lengths[:, 0], "scores": scores[:, 0],
                "nbest_scores": scores}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    @reads_stored_weights
    def score(self, texts):
        """Log-probability (nats) of each text and its closing `<eos>`, token and word counts, perplexity."""
        ids = self._with_eos(texts)
        eos = tf.fill([ids.nrows(), 1], tf.constant(self.eos_id, tf.int32))
        ids = tf.concat([ids, tf.RaggedTensor.from_tensor(eos)], axis=1)
        dense = ids.to_tensor(default_value=0)
        inputs, targets = dense[:, :-1], dense[:, 1:]
        weights = tf.cast(tf.not_equal(targets, 0), tf.float32)
        logits, _ = self.network.forward(inputs, None, training=False, mask=tf.not_equal(targets, 0))
        log_probs = -tf.nn.sparse_softmax_cross_entropy_with_logits(targets, tf.cast(logits, tf.float32))
        total = tf.reduce_sum(log_probs * weights, axis=1)
        tokens = tf.cast(tf.reduce_sum(weights, axis=1), tf.int32)
        words = tf.cast(tf.strings.split(texts).row_lengths(), tf.int32) + 1
        return {"log_prob": total, "tokens": tokens, "words": words,
                "perplexity": tf.exp(-total / tf.cast(words, tf.float32))}


def export_lm(lm, encoder, path, weights_dtype="float32"):
    """Writes the language model SavedModel to `path` (which must not exist yet).

    Args:
        lm: a built `RNNLanguageModel`.
        encoder: its `TextEncoder`.
        path: target directory.
        weights_dtype: how the weights are stored, "float32" or "float16"
            (see `LMGenerator`).
    """
    module = LMGenerator(lm, encoder, weights_dtype)
    sample_fn = module.generate_sample.get_concrete_function()
    signatures = {
        "serving_default": sample_fn,
        "generate_sample": sample_fn,
        "generate_greedy": module.generate_greedy.get_concrete_function(),
        "generate_beam": module.generate_beam.get_concrete_function(),
        "score": module.score.get_concrete_function(),
    }
    tf.saved_model.save(module, str(path), signatures=signatures)
