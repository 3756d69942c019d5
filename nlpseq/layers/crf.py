"""Linear-chain conditional random field: the functions and a Keras layer.

The functions work on any Keras backend (`keras.ops`) and inside compiled
graphs with dynamic batch and time sizes: TF `tf.function` (including an
`input_signature` of shape `(None, None, K)`), `model.fit`, and `jax.jit`.
On TensorFlow, `crf_decode` runs a leaner `tf.while_loop` Viterbi
(`_viterbi_tf`, tested equal to the `keras.ops.scan` one the other backends use).

Conventions shared by every function:

- `potentials` (B, T, K) float: emission scores of tag k at step t.
- `tags` (B, T) int: gold tags; values at masked positions are ignored.
- `mask` (B, T) bool, right-padded (a sequence's valid steps come first), or
  None for all-valid.
- `transitions[i, j]` scores tag i followed by tag j; `start[k]` / `end[k]`
  score tag k at the first / last valid step.
- A sequence of length 0 scores 0 and has log-partition 0.
"""

import keras
from keras import ops

# Time loops. `keras.ops.scan` on TF requires each step's output to have the
# carry's exact structure, shape and dtype, so every scan below carries one
# float tensor and emits one float tensor of the same shape: Viterbi
# back-pointers and decoded tags travel as floats (exact for any realistic tag
# count) and are cast back to int afterwards. The differentiated loop (the
# forward algorithm) goes through `_final_carry` instead, see there.


def _prepare(potentials, mask, transitions, start, end):
    """Casts inputs to one float dtype and appends one masked time step.

    The extra step makes the time axis non-empty (a zero-length scan cannot be
    stacked when the batch size is unknown in a TF graph) and costs one cheap
    loop iteration; masked steps never change any result.
    """
    potentials = ops.convert_to_tensor(potentials)
    if potentials.dtype in ("float16", "bfloat16"):
        # log-sum-exp over long sequences loses too much in half precision.
        potentials = ops.cast(potentials, "float32")
    dtype = potentials.dtype
    transitions = ops.cast(transitions, dtype)
    start = ops.cast(start, dtype)
    end = ops.cast(end, dtype)
    if mask is None:
        mask = ops.ones(ops.shape(potentials)[:2], dtype="bool")
    mask = ops.cast(mask, "bool")
    potentials = ops.pad(potentials, ((0, 0), (0, 1), (0, 0)))
    mask = ops.pad(mask, ((0, 0), (0, 1)), constant_values=False)
    return potentials, mask, transitions, start, end


def _time_major_inputs(potentials, mask):
    """Packs the scan input into one (T, B, K + 2) float tensor.

    Per step: K potentials, then a valid flag, then an is-first-step flag. One
    tensor rather than a tuple because TF's `scan` fails on several inputs
    whose time length is unknown at trace time.
    """
    dtype = potentials.dtype
    steps = ops.shape(potentials)[1]
    valid = ops.expand_dims(ops.cast(mask, dtype), -1)
    first = ops.cast(ops.equal(ops.arange(steps), 0), dtype)
    first = ops.broadcast_to(ops.reshape(first, (1, -1, 1)), ops.shape(valid))
    packed = ops.concatenate([potentials, valid, first], axis=-1)
    return ops.transpose(packed, (1, 0, 2))


def _unpack_step(x):
    return x[:, :-2], x[:, -2:-1] > 0.5, x[:, -1:] > 0.5


def _final_carry(step, init, xs):
    """Runs `carry, _ = step(carry, x)` over the leading axis of `xs`; returns the carry.

    This loop is the one that training differentiates. Under XLA (TF
    `jit_compile`, the default for `fit` on a GPU) TF can only differentiate a
    while loop with a maximum iteration count, which `keras.ops.scan` does not
    set; JAX, on the other hand, can only reverse-differentiate `scan`.
    """
    if keras.backend.backend() != "tensorflow":
        carry, _ = ops.scan(step, init, xs)
        return carry
    steps = ops.shape(xs)[0]

    def body(t, carry):
        carry, _ = step(carry, ops.take(xs, t, axis=0))
        return t + 1, carry

    _, carry = ops.while_loop(
        lambda t, carry: t < steps, body, (0, init), maximum_iterations=steps
    )
    return carry


def _lengths(mask):
    return ops.sum(ops.cast(mask, "int32"), axis=1)


def crf_log_norm(potentials, mask, transitions, start, end):
    """Log-partition function of a linear-chain CRF (forward algorithm in log space).

    Args:
        potentials: (B, T, K) float emission scores.
        mask: (B, T) bool right-padded mask, or None for all-valid.
        transitions: (K, K) float, `transitions[i, j]` scores tag i -> tag j.
        start: (K,) float scores of the first tag.
        end: (K,) float scores of the last tag.

    Returns:
        (B,) float: log of the sum over all tag paths of exp(path score);
        0 for sequences of length 0.
    """
    potentials, mask, transitions, start, end = _prepare(
        potentials, mask, transitions, start, end
    )
    packed = _time_major_inputs(potentials, mask)
    trans = ops.expand_dims(transitions, 0)

    def step(alpha, inputs):
        pot, valid, first = _unpack_step(inputs)
        # alpha[b, i] + trans[i, j], reduced over the previous tag i.
        moved = ops.logsumexp(ops.expand_dims(alpha, -1) + trans, axis=1)
        new = ops.where(first, start + pot, moved + pot)
        alpha = ops.where(valid, new, alpha)
        return alpha, alpha

    init = ops.zeros_like(potentials[:, 0, :])
    alpha = _final_carry(step, init, packed)
    log_norm = ops.logsumexp(alpha + end, axis=1)
    return ops.where(_lengths(mask) > 0, log_norm, ops.zeros_like(log_norm))


def crf_sequence_score(potentials, tags, mask, transitions, start, end):
    """Unnormalized score of given tag paths.

    Args:
        potentials: (B, T, K) float emission scores.
        tags: (B, T) int gold tags (any value at masked positions).
        mask: (B, T) bool right-padded mask, or None for all-valid.
        transitions: (K, K) float transition scores.
        start: (K,) float first-tag scores.
        end: (K,) float last-tag scores.

    Returns:
        (B,) float: start + emissions + transitions + end along each path;
        0 for sequences of length 0.
    """
    steps = ops.shape(potentials)[1]
    potentials, mask, transitions, start, end = _prepare(
        potentials, mask, transitions, start, end
    )
    # _prepare appended one step; drop it again, no loop here needs it.
    potentials = potentials[:, :steps]
    mask = mask[:, :steps]
    dtype = potentials.dtype
    num_tags = ops.shape(transitions)[0]
    fmask = ops.cast(mask, dtype)
    # Masked tags may be padding values such as -1; clip keeps one_hot valid.
    tags = ops.clip(ops.cast(tags, "int32"), 0, num_tags - 1)
    onehot = ops.one_hot(tags, num_tags, dtype=dtype)  # (B, T, K)

    unary = ops.sum(ops.sum(potentials * onehot, axis=-1) * fmask, axis=1)
    # Transition into step t (t >= 1) counts when step t is valid.
    from_tags = onehot[:, :-1]
    to_tags = onehot[:, 1:]
    trans_scores = ops.sum(ops.matmul(from_tags, transitions) * to_tags, axis=-1)
    binary = ops.sum(trans_scores * fmask[:, 1:], axis=1)

    lengths = _lengths(mask)
    has_tokens = ops.cast(lengths > 0, dtype)
    first_score = ops.sum(onehot[:, 0] * start, axis=-1)
    last_index = ops.maximum(lengths - 1, 0)
    last_onehot = ops.take_along_axis(
        onehot, ops.reshape(last_index, (-1, 1, 1)), axis=1
    )[:, 0]
    last_score = ops.sum(last_onehot * end, axis=-1)
    return unary + binary + has_tokens * (first_score + last_score)


def crf_log_likelihood(potentials, tags, mask, transitions, start, end):
    """Log-likelihood of the gold tag paths: sequence score minus log-partition.

    Args:
        potentials: (B, T, K) float emission scores.
        tags: (B, T) int gold tags.
        mask: (B, T) bool right-padded mask, or None for all-valid.
        transitions: (K, K) float transition scores.
        start: (K,) float first-tag scores.
        end: (K,) float last-tag scores.

    Returns:
        (B,) float log p(tags | potentials), <= 0; 0 for sequences of length 0.
    """
    score = crf_sequence_score(potentials, tags, mask, transitions, start, end)
    log_norm = crf_log_norm(potentials, mask, transitions, start, end)
    return score - log_norm


def crf_decode(potentials, mask, transitions, start, end):
    """Most likely tag paths (Viterbi with back-pointers).

    Args:
        potentials: (B, T, K) float emission scores.
        mask: (B, T) bool right-padded mask, or None for all-valid.
        transitions: (K, K) float transition scores.
        start: (K,) float first-tag scores.
        end: (K,) float last-tag scores.

    Returns:
        A tuple `(best_tags, best_score)`: (B, T) int32 tags, 0 at masked
        positions, and (B,) float scores of those paths (0 for length 0).
    """
    steps = ops.shape(potentials)[1]
    potentials, mask, transitions, start, end = _prepare(
        potentials, mask, transitions, start, end
    )
    if keras.backend.backend() == "tensorflow":
        tags, best_score = _viterbi_tf(potentials, mask, transitions, start, end)
        return tags[:, :steps], best_score
    return _viterbi_scan(potentials, mask, transitions, start, end, steps)


def _viterbi_scan(potentials, mask, transitions, start, end, steps):
    """`crf_decode` with `keras.ops.scan` (every backend), on `_prepare`d inputs."""
    dtype = potentials.dtype
    packed = _time_major_inputs(potentials, mask)
    num_tags = ops.shape(transitions)[0]
    trans = ops.expand_dims(transitions, 0)
    # At masked steps a back-pointer of "same tag" carries the final tag back
    # to the last valid step unchanged.
    identity = ops.cast(ops.arange(num_tags), dtype)

    def forward(delta, inputs):
        pot, valid, first = _unpack_step(inputs)
        cand = ops.expand_dims(delta, -1) + trans  # (B, K_prev, K)
        best_prev = ops.cast(ops.argmax(cand, axis=1), dtype)
        new = ops.where(first, start + pot, ops.max(cand, axis=1) + pot)
        pointers = ops.where(ops.logical_and(valid, ops.logical_not(first)), best_prev, identity)
        return ops.where(valid, new, delta), pointers

    init = ops.zeros_like(potentials[:, 0, :])
    delta, pointers = ops.scan(forward, init, packed)
    final = delta + end
    best_last = ops.cast(ops.argmax(final, axis=1), dtype)
    best_score = ops.max(final, axis=1)

    def backward(tag, step_pointers):
        index = ops.expand_dims(ops.cast(tag, "int32"), -1)
        previous = ops.take_along_axis(step_pointers, index, axis=1)[:, 0]
        return previous, tag

    _, tags_t = ops.scan(backward, best_last, pointers, reverse=True)
    tags = ops.cast(ops.transpose(tags_t, (1, 0)), "int32")
    tags = ops.where(mask, tags, ops.zeros_like(tags))[:, :steps]
    has_tokens = _lengths(mask) > 0
    best_score = ops.where(has_tokens, best_score, ops.zeros_like(best_score))
    return tags, best_score


def _viterbi_tf(potentials, mask, transitions, start, end):
    """`crf_decode` as two lean TensorFlow while loops, on `_prepare`d inputs.

    Why: tagging time is dominated by per-step loop overhead at these tiny
    sizes (K ~ 17), and `keras.ops.scan` on TF adds several ops per step (the
    carry goes through a TensorArray, the packed step input is sliced and
    cast back). Here the forward step is a handful of ops, validity comes
    from the lengths, the back-pointers stay int32, and the back-trace is one
    gather per step. It measured 2.5-3x faster than `_viterbi_scan` on
    tagger-sized batches here, with identical tags (tests/layers/test_crf.py
    compares the two; bench/tagger_speed.py times whole tagging).
    """
    import tensorflow as tf

    batch, steps, num_tags = tf.shape(potentials)[0], tf.shape(potentials)[1], tf.shape(potentials)[2]
    lengths = _lengths(mask)
    emissions = tf.TensorArray(potentials.dtype, size=steps).unstack(tf.transpose(potentials, [1, 0, 2]))
    # At steps past a row's end the pointer "same tag" carries its last tag back unchanged.
    identity = tf.broadcast_to(tf.range(num_tags)[None], [batch, num_tags])
    trans = transitions[None]

    def forward(t, delta, pointers):
        cand = delta[:, :, None] + trans  # (B, K_prev, K)
        new = tf.reduce_max(cand, axis=1) + emissions.read(t)
        best_prev = tf.argmax(cand, axis=1, output_type=tf.int32)
        valid = (t < lengths)[:, None]
        return t + 1, tf.where(valid, new, delta), pointers.write(t, tf.where(valid, best_prev, identity))

    pointers = tf.TensorArray(tf.int32, size=steps).write(0, identity)
    _, delta, pointers = tf.while_loop(
        lambda t, *_: t < steps, forward, [tf.constant(1), start[None] + emissions.read(0), pointers]
    )
    final = delta + end
    best_score = tf.reduce_max(final, axis=1)

    def backward(t, tag, tags):
        previous = tf.gather(pointers.read(t), tag[:, None], batch_dims=1)[:, 0]
        return t - 1, previous, tags.write(t, tag)

    _, _, tags = tf.while_loop(
        lambda t, *_: t >= 0, backward,
        [steps - 1, tf.argmax(final, axis=1, output_type=tf.int32), tf.TensorArray(tf.int32, size=steps)],
    )
    tags = tf.where(mask, tf.transpose(tags.stack()), 0)
    return tags, tf.where(lengths > 0, best_score, tf.zeros_like(best_score))


@keras.saving.register_keras_serializable(package="nlpseq")
class CRF(keras.layers.Layer):
    """Linear-chain CRF output layer holding transition, start and end scores.

    `call` returns the emission potentials unchanged, so a model's output is the
    emissions; the training loss uses `log_likelihood` and prediction uses
    `decode`, both with this layer's weights.

    Args:
        num_tags: number of tags K.
        initializer: initializer of the three weights (default: small uniform).
        **kwargs: base `keras.layers.Layer` arguments.

    Returns:
        `call(potentials, mask=None)` returns `potentials` (B, T, K) unchanged.

    Masking:
        Supports and propagates the Keras mask. `log_likelihood` and `decode`
        take the (B, T) mask explicitly (None means all-valid); masks must be
        right-padded.

    Example:
        >>> crf = nlpseq.layers.CRF(5)
        >>> emissions = crf(keras.random.normal((2, 7, 5)))
        >>> tags, scores = crf.decode(emissions, mask=None)
        >>> loss = -keras.ops.mean(crf.log_likelihood(emissions, tags, None))
    """

    def __init__(self, num_tags, initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.num_tags = int(num_tags)
        self.initializer = keras.initializers.get(
            initializer
            if initializer is not None
            else keras.initializers.RandomUniform(-0.1, 0.1)
        )
        self.supports_masking = True

    def build(self, input_shape=None):
        self.transitions = self.add_weight(
            shape=(self.num_tags, self.num_tags),
            initializer=self.initializer,
            name="transitions",
        )
        self.start_transitions = self.add_weight(
            shape=(self.num_tags,), initializer=self.initializer, name="start_transitions"
        )
        self.end_transitions = self.add_weight(
            shape=(self.num_tags,), initializer=self.initializer, name="end_transitions"
        )
        self.built = True

    def call(self, potentials, mask=None):
        return potentials

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return mask

    def _weights(self):
        if not self.built:
            self.build()
        return self.transitions, self.start_transitions, self.end_transitions

    def log_likelihood(self, potentials, tags, mask=None):
        """(B,) log p(tags | potentials); see `crf_log_likelihood`."""
        return crf_log_likelihood(potentials, tags, mask, *self._weights())

    def log_norm(self, potentials, mask=None):
        """(B,) log-partition; see `crf_log_norm`."""
        return crf_log_norm(potentials, mask, *self._weights())

    def decode(self, potentials, mask=None):
        """Viterbi `(tags (B, T) int32, scores (B,))`; see `crf_decode`."""
        return crf_decode(potentials, mask, *self._weights())

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_tags": self.num_tags,
                "initializer": keras.initializers.serialize(self.initializer),
            }
        )
        return config
