"""In-graph token-by-token decoding: greedy search, sampling and beam search.

One decoder serves every generating model (the recurrent language model and
the attention seq2seq model). A model exposes a single step through a
`StepFn`; the loops here call it inside `tf.while_loop`, so a decoder traced
in a `tf.function` (dynamic batch size, scalar parameters given as tensors)
is exported as one SavedModel signature.

A step function has the signature::

    step_fn(token_ids, states, constants) -> (logits, new_states)

- `token_ids` int32 [N]: the previous token of each row (the start token at
  the first step).
- `states`: a `tf.nest` structure of tensors with leading dimension N (for
  example the LSTM h/c of every layer); the step returns the same structure.
- `constants`: a `tf.nest` structure of tensors with leading dimension N that
  never change (for example an encoder memory and its mask); may be `()`.
- `logits` float [N, V]: unnormalized scores of the next token.

Conventions shared by `sample` and `beam_search`:

- `ids` hold the generated tokens without the end-of-sequence token; every
  position from a hypothesis' eos onward is `pad_id`.
- `lengths` count the tokens before the eos (all of them when the
  hypothesis stopped at its length limit).
- log-probabilities are those of the unmodified model distribution
  (`log_softmax` of the raw logits) and include the eos when one was
  produced.
- A row's length limit is `max_new_tokens`, lowered to the row's entry of
  `max_lengths` when given; a limit of 0 yields the empty hypothesis with
  log-probability 0.
- The eos may be produced at the last allowed step; a row whose limit is
  reached without eos simply stops.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from nlpseq.errors import InputError

StepFn = Callable[[tf.Tensor, Any, Any], "tuple[tf.Tensor, Any]"]
"""`step_fn(token_ids int32 [N], states, constants) -> (logits float32 [N, V], new_states)`."""

STRATEGIES = ("greedy", "sample")

_NEG_INF = float("-inf")


# ---------------------------------------------------------------------------
# Argument validation
# ---------------------------------------------------------------------------


def _is_tensor(value):
    return tf.is_tensor(value) or isinstance(value, tf.Variable)


def _python_number(value, name, integer):
    """Returns `value` as a Python int/float, or raises InputError."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        kind = "an integer" if integer else "a number"
        raise InputError(f"{name} must be {kind} or a scalar tensor, got {value!r}")
    if integer:
        if not float(value).is_integer():
            raise InputError(f"{name} must be an integer, got {value!r}")
        return int(value)
    return float(value)


def _scalar_param(value, name, *, dtype, rule, low, strict=False, high=None):
    """Validates a scalar parameter that may be a Python number or a tensor.

    Python numbers are checked now and raise `InputError`; tensors get
    `tf.debugging` assertions with the same message, so a value fed to an
    exported signature is checked when the graph runs.

    Args:
        value: the parameter as given by the caller.
        name: its name, for the error message.
        dtype: the tf dtype the decoder uses it as.
        rule: the constraint in words, e.g. "must be >= 0".
        low: the lower bound.
        strict: whether the lower bound is excluded.
        high: an inclusive upper bound, or None.

    Returns:
        `(tensor, python_value)`: the value as a scalar tensor of `dtype` and,
        when it was a Python number, that number (else None) so callers can
        skip work that the value turns off at trace time.
    """
    message = f"{name} {rule}"
    if _is_tensor(value):
        tensor = tf.convert_to_tensor(value)
        if tensor.shape.rank not in (None, 0):
            raise InputError(f"{name} must be a scalar, got a tensor of shape {tensor.shape}")
        if dtype.is_integer and not (tensor.dtype.is_integer):
            raise InputError(f"{name} must be an integer tensor, got dtype {tensor.dtype.name}")
        bound = tf.cast(low, tensor.dtype)
        check = tf.debugging.assert_greater if strict else tf.debugging.assert_greater_equal
        # In eager mode these raise at once and return None; in a graph they
        # return ops that gate the value so the check always runs first.
        assertions = [check(tensor, bound, message=message)]
        if high is not None:
            assertions.append(
                tf.debugging.assert_less_equal(tensor, tf.cast(high, tensor.dtype), message=message)
            )
        with tf.control_dependencies([a for a in assertions if a is not None]):
            tensor = tf.identity(tensor)
        return tf.cast(tensor, dtype), None
    number = _python_number(value, name, dtype.is_integer)
    ok = (number > low if strict else number >= low) and (high is None or number <= high)
    if not ok:  # also rejects NaN
        raise InputError(f"{message}, got {value!r}")
    return tf.constant(number, dtype), number


def _max_new_tokens(value):
    return _scalar_param(value, "max_new_tokens", dtype=tf.int32, rule="must be >= 0", low=0)


def _top_k(value):
    return _scalar_param(value, "top_k", dtype=tf.int32, rule="must be >= 0 (0 means off)", low=0)


def _top_p(value):
    return _scalar_param(
        value, "top_p", dtype=tf.float32, rule="must be in (0, 1] (1 means off)", low=0, strict=True,
        high=1,
    )


def _start_ids(start_ids):
    start_ids = tf.convert_to_tensor(start_ids)
    if start_ids.shape.rank not in (None, 1):
        raise InputError(f"start_ids must have shape [batch], got {start_ids.shape}")
    if not start_ids.dtype.is_integer:
        raise InputError(f"start_ids must be integer token ids, got dtype {start_ids.dtype.name}")
    return tf.cast(start_ids, tf.int32)


def _row_limits(max_new, max_lengths, start_ids):
    """The per-row length limit [B]: max_new_tokens, lowered by max_lengths."""
    batch = tf.shape(start_ids)[0]
    if max_lengths is None:
        return tf.fill([batch], max_new)
    max_lengths = tf.convert_to_tensor(max_lengths)
    if max_lengths.shape.rank not in (None, 1) or not max_lengths.dtype.is_integer:
        raise InputError(
            f"max_lengths must be integers of shape [batch], got {max_lengths.dtype.name} "
            f"{max_lengths.shape}"
        )
    rows, wanted = max_lengths.shape.num_elements(), start_ids.shape.num_elements()
    if max_lengths.shape.is_fully_defined() and start_ids.shape.is_fully_defined() and rows != wanted:
        raise InputError(f"max_lengths must have one entry per row ({wanted}), got {rows}")
    check = tf.debugging.assert_equal(
        tf.shape(max_lengths)[0], batch, message="max_lengths must have one entry per row"
    )
    with tf.control_dependencies([check] if check is not None else []):
        max_lengths = tf.cast(max_lengths, tf.int32)
    # A negative entry means "nothing to generate", like 0.
    return tf.minimum(tf.maximum(max_lengths, 0), max_new)


def _as_tensors(states, constants):
    """Converts the state and constant structures (NumPy arrays allowed) to tensors."""
    constants = () if constants is None else constants
    return (
        tf.nest.map_structure(tf.convert_to_tensor, states),
        tf.nest.map_structure(tf.convert_to_tensor, constants),
    )


def _relaxed_shape(tensor):
    """`tensor`'s static shape with the leading (row) dimension unknown.

    Used as the while-loop shape invariant of states: the row count is
    dynamic (and differs from B by the beam factor), the inner sizes stay
    known so the step function keeps its static shapes.
    """
    shape = tensor.shape
    if shape.rank is None or shape.rank == 0:
        return shape
    return tf.TensorShape([None]).concatenate(shape[1:])


def _longest(lengths):
    # reduce_max of an empty batch is INT_MIN; the extra 0 keeps T >= 0.
    return tf.reduce_max(tf.concat([tf.reshape(lengths, [-1]), [0]], axis=0))


# ---------------------------------------------------------------------------
# Logit filtering
# ---------------------------------------------------------------------------


def _filter_logits(logits, top_k, top_p, use_top_k=True, use_top_p=True):
    """`top_k_top_p_filter` on validated tensors; the flags skip work at trace time."""
    if not (use_top_k or use_top_p):
        return logits
    rank = logits.shape.rank
    if rank is None or rank < 1:
        raise InputError(f"logits must have a known rank >= 1, got shape {logits.shape}")
    removed = tf.constant(logits.dtype.min, logits.dtype)
    vocab = tf.shape(logits)[-1]
    # Both filters keep a prefix of the tokens sorted by decreasing logit. The
    # mask is built on ranks, not by comparing with a threshold logit, so
    # ties at the threshold cannot keep more than top_k tokens. A stable sort
    # breaks ties by the lower token id, like argmax.
    order = tf.argsort(logits, axis=-1, direction="DESCENDING", stable=True)
    sorted_logits = tf.gather(logits, order, batch_dims=rank - 1)
    keep = tf.ones_like(sorted_logits, dtype=tf.bool)
    if use_top_k:
        k = tf.where(top_k > 0, tf.minimum(top_k, vocab), vocab)
        keep = tf.logical_and(keep, tf.range(vocab) < k)
    if use_top_p:
        # Probabilities of the distribution left after top-k (renormalized).
        probs = tf.nn.softmax(tf.where(keep, sorted_logits, removed), axis=-1)
        mass_before = tf.math.cumsum(probs, axis=-1, exclusive=True)
        # A token is in the nucleus when the tokens ranked above it do not yet
        # reach top_p; the best token has 0 before it, so one always stays.
        # top_p >= 1 is "off" even where rounding makes the sum reach 1 early.
        in_nucleus = tf.logical_or(mass_before < tf.cast(top_p, probs.dtype), top_p >= 1.0)
        keep = tf.logical_and(keep, in_nucleus)
    # Back to token order: scattering by `order` is linear, where inverting the
    # permutation with a second argsort would sort the vocabulary again.
    flat_order = tf.reshape(order, [-1, vocab])
    rows = tf.broadcast_to(tf.range(tf.shape(flat_order)[0])[:, None], tf.shape(flat_order))
    keep = tf.scatter_nd(tf.stack([rows, flat_order], axis=-1), tf.cast(tf.reshape(keep, [-1, vocab]), tf.int8),
                         tf.shape(flat_order))
    keep = tf.reshape(tf.cast(keep, tf.bool), tf.shape(logits))
    return tf.where(keep, logits, removed)


def top_k_top_p_filter(logits, top_k, top_p):
    """Removes the tokens outside the top-k and outside the top-p nucleus.

    First, when `top_k > 0`, only the `top_k` largest logits of each row stay
    (ties broken by the lower token id, so exactly `min(top_k, V)` stay).
    Then, when `top_p < 1`, only the smallest set of highest-probability
    tokens whose cumulative probability (under the softmax of the logits
    left by top-k) reaches `top_p` stays; the most likely token always stays.

    Args:
        logits: float [..., V] tensor (rank known at trace time).
        top_k: int or scalar int tensor, >= 0; 0 turns the filter off.
        top_p: float or scalar float tensor in (0, 1]; 1 turns it off.

    Returns:
        A tensor like `logits` where removed entries are set to the dtype's
        most negative finite value (probability 0 after a softmax or in
        `tf.random.stateless_categorical`).

    Raises:
        InputError: a Python `top_k` < 0 or `top_p` outside (0, 1].
        tf.errors.InvalidArgumentError: the same for tensor values.
    """
    logits = tf.convert_to_tensor(logits)
    k, k_value = _top_k(top_k)
    p, p_value = _top_p(top_p)
    return _filter_logits(
        logits, k, p, use_top_k=k_value is None or k_value > 0, use_top_p=p_value is None or p_value < 1
    )


# ---------------------------------------------------------------------------
# Greedy search and sampling
# ---------------------------------------------------------------------------


def sample(step_fn, start_ids, states, *, max_new_tokens, eos_id, constants=(), strategy="greedy",
           temperature=1.0, top_k=0, top_p=1.0, seed=0, max_lengths=None, pad_id=0):
    """Generates one sequence per row, greedily or by sampling.

    For `strategy="sample"` the next-token distribution is: logits divided
    by `temperature`, then restricted to the `top_k` largest logits (when
    `top_k > 0`), then to the top-`top_p` nucleus (when `top_p < 1`), see
    `top_k_top_p_filter`. Draws use `tf.random.stateless_categorical` with
    the seed pair `(seed, step)`, so the same seed (and batch) always gives
    the same output. Greedy search takes the argmax (lowest id on ties).

    The first token comes from `step_fn(start_ids, states, constants)`. A
    row stops when it produces `eos_id` or reaches its length limit
    (`max_new_tokens`, or its `max_lengths` entry when smaller); the loop
    ends as soon as every row has stopped.

    Args:
        step_fn: a `StepFn` (see the module docstring).
        start_ids: int [B] first input token of each row (e.g. BOS).
        states: `tf.nest` structure of initial states, each [B, ...].
        max_new_tokens: int or scalar int tensor >= 0: most tokens generated
            per row, eos included. 0 returns empty [B, 0] ids.
        eos_id: int or scalar int tensor: the end-of-sequence token.
        constants: `tf.nest` structure of [B, ...] tensors passed unchanged
            to every step; may be `()`.
        strategy: "greedy" or "sample" (a Python str, fixed at trace time).
        temperature: float or scalar tensor > 0 ("sample" only).
        top_k: int or scalar int tensor >= 0; 0 is off ("sample" only).
        top_p: float or scalar tensor in (0, 1]; 1 is off ("sample" only).
        seed: int or scalar int tensor: the sampling seed.
        max_lengths: optional int [B]: per-row limits (e.g. relative to a
            source length); each row uses min(max_new_tokens, its entry).
        pad_id: int or scalar int tensor filling positions after a row's end.

    Returns:
        `(ids, lengths, log_probs)`: int32 [B, T] generated tokens without the
        eos, `pad_id` from the eos onward, where T <= max_new_tokens is the
        longest length; int32 [B] tokens before the eos; float32 [B] sums of
        the log-probabilities (log_softmax of the raw logits) of the
        generated tokens, eos included when produced.

    Raises:
        InputError: an unknown strategy or a Python parameter out of range
            (max_new_tokens < 0, temperature <= 0, top_k < 0, top_p outside
            (0, 1]).
        tf.errors.InvalidArgumentError: the same for tensor parameters.
    """
    if strategy not in STRATEGIES:
        raise InputError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if not callable(step_fn):
        raise InputError(f"step_fn must be callable, got {type(step_fn).__name__}")
    max_new, _ = _max_new_tokens(max_new_tokens)
    temperature, temp_value = _scalar_param(
        temperature, "temperature", dtype=tf.float32, rule="must be > 0", low=0, strict=True
    )
    top_k, k_value = _top_k(top_k)
    top_p, p_value = _top_p(top_p)
    # Python values that turn a transformation off skip it in the graph.
    use_temperature = temp_value is None or temp_value != 1.0
    use_top_k = k_value is None or k_value > 0
    use_top_p = p_value is None or p_value < 1.0

    start_ids = _start_ids(start_ids)
    limits = _row_limits(max_new, max_lengths, start_ids)
    eos_id = tf.cast(eos_id, tf.int32)
    pad_id = tf.cast(pad_id, tf.int32)
    seed = tf.cast(seed, tf.int64)
    states, constants = _as_tensors(states, constants)
    batch = tf.shape(start_ids)[0]

    def next_tokens(logits, step):
        if strategy == "greedy":
            return tf.argmax(logits, axis=-1, output_type=tf.int32)
        scaled = logits / temperature if use_temperature else logits
        if use_top_k or use_top_p:
            # Tensor parameters may still say "off" at run time: skip the sort then.
            active = tf.logical_or(top_k > 0, top_p < 1.0) if use_top_k and use_top_p else (
                top_k > 0 if use_top_k else top_p < 1.0)
            scaled = tf.cond(active, lambda: _filter_logits(scaled, top_k, top_p, use_top_k, use_top_p),
                             lambda: scaled)
        step_seed = tf.stack([seed, tf.cast(step, tf.int64)])
        return tf.random.stateless_categorical(scaled, 1, seed=step_seed, dtype=tf.int32)[:, 0]

    def keep_going(step, inputs, states, finished, lengths, log_probs, ids):
        # Every row is finished after `limits` <= max_new_tokens steps, so this
        # also bounds the loop (maximum_iterations below states it for XLA).
        return tf.logical_not(tf.reduce_all(finished))

    def body(step, inputs, states, finished, lengths, log_probs, ids):
        logits, states = step_fn(inputs, states, constants)
        logits = tf.cast(logits, tf.float32)
        tokens = next_tokens(logits, step)
        token_log_probs = tf.gather(tf.nn.log_softmax(logits), tokens, batch_dims=1)
        is_eos = tf.equal(tokens, eos_id)
        active = tf.logical_not(finished)
        # Finished rows keep stepping with the batch; nothing they produce counts.
        log_probs += tf.where(active, token_log_probs, 0.0)
        emitted = tf.logical_and(active, tf.logical_not(is_eos))
        lengths += tf.cast(emitted, tf.int32)
        ids = tf.concat([ids, tf.where(emitted, tokens, pad_id)[:, None]], axis=1)
        finished = finished | is_eos | (lengths >= limits)
        return step + 1, tokens, states, finished, lengths, log_probs, ids

    loop_vars = (
        tf.constant(0),
        start_ids,
        states,
        limits <= 0,
        tf.zeros([batch], tf.int32),
        tf.zeros([batch], tf.float32),
        tf.zeros([batch, 0], tf.int32),
    )
    invariants = (
        tf.TensorShape([]),
        tf.TensorShape([None]),
        tf.nest.map_structure(_relaxed_shape, states),
        tf.TensorShape([None]),
        tf.TensorShape([None]),
        tf.TensorShape([None]),
        tf.TensorShape([None, None]),
    )
    _, _, _, _, lengths, log_probs, ids = tf.while_loop(
        keep_going, body, loop_vars, shape_invariants=invariants, maximum_iterations=max_new
    )
    # The last step may only have produced eos (or pads): trim to the longest row.
    ids = ids[:, : _longest(lengths)]
    return ids, lengths, log_probs


# ---------------------------------------------------------------------------
# Beam search
# ---------------------------------------------------------------------------


def gnmt_length_penalty(length, alpha):
    """GNMT length penalty lp = ((5 + length) / 6) ** alpha (1 when alpha = 0).

    Args:
        length: float tensor: the hypothesis length, eos included.
        alpha: float scalar (tensor): the `length_penalty` strength.

    Returns:
        A float tensor like `length`; normalized score = log-prob sum / lp.
    """
    return tf.pow((5.0 + length) / 6.0, alpha)


def beam_search(step_fn, start_ids, states, *, beam_size, max_new_tokens, eos_id, constants=(),
                length_penalty=0.0, max_lengths=None, pad_id=0):
    """Returns the `beam_size` best hypotheses per row, best first.

    Standard beam search (as in OpenNMT-tf): `states` and `constants` are
    tiled to [B*K, ...] once (rows b*K .. b*K+K-1 belong to sentence b);
    states are re-gathered by beam origin every step, constants are not.
    Each step, every unfinished beam proposes its V extensions and every
    finished beam proposes itself once (extended by eos at no cost); the K
    best proposals by normalized score form the next beam. A hypothesis is
    finished when it produced eos or reached its length limit; a sentence is
    done when all its beams are finished, and the loop ends when all
    sentences are done. With K = 1 this is exactly greedy search, and when K
    is at least the number of hypotheses, it is exhaustive.

    Scores are sums of log-probabilities (log_softmax of the raw logits)
    divided by the GNMT penalty `gnmt_length_penalty(L, length_penalty)`,
    where L counts the generated tokens including the eos (so all
    candidates of one step share L and the penalty only matters between
    hypotheses of different lengths). At the first step the K beams of a
    sentence are identical, so beams 1..K-1 start at -inf and only beam 0
    is expanded.

    Args:
        step_fn: a `StepFn` (see the module docstring).
        start_ids: int [B] first input token of each sentence.
        states: `tf.nest` structure of initial states, each [B, ...].
        beam_size: int or scalar int tensor >= 1 (K).
        max_new_tokens: int or scalar int tensor >= 0: most tokens generated
            per hypothesis, eos included.
        eos_id: int or scalar int tensor: the end-of-sequence token, which
            must be a valid index into the logits.
        constants: `tf.nest` structure of [B, ...] tensors passed unchanged
            to every step; may be `()`.
        length_penalty: float or scalar float tensor: the GNMT alpha; 0
            ranks by the plain log-probability sum.
        max_lengths: optional int [B]: per-sentence limits; each sentence uses
            min(max_new_tokens, its entry).
        pad_id: int or scalar int tensor filling positions after the end.

    Returns:
        `(ids, lengths, scores)`: int32 [B, K, T] n-best token ids without the
        eos, `pad_id` from the eos onward, T the longest length; int32 [B, K]
        tokens before the eos; float32 [B, K] normalized scores, sorted in
        decreasing order per sentence. When a sentence has fewer than K
        possible hypotheses, the extra entries have score -inf, length 0 and
        only `pad_id`. A sentence whose limit is 0 gets the empty hypothesis
        with score 0 first.

    Raises:
        InputError: a Python beam_size < 1 or max_new_tokens < 0.
        tf.errors.InvalidArgumentError: the same for tensor parameters.
    """
    if not callable(step_fn):
        raise InputError(f"step_fn must be callable, got {type(step_fn).__name__}")
    beam, _ = _scalar_param(beam_size, "beam_size", dtype=tf.int32, rule="must be >= 1", low=1)
    max_new, _ = _max_new_tokens(max_new_tokens)
    alpha = tf.cast(length_penalty, tf.float32)
    start_ids = _start_ids(start_ids)
    limits = _row_limits(max_new, max_lengths, start_ids)
    eos_id = tf.cast(eos_id, tf.int32)
    pad_id = tf.cast(pad_id, tf.int32)
    states, constants = _as_tensors(states, constants)
    batch = tf.shape(start_ids)[0]

    def tile(tensor):
        # [B, ...] -> [B*K, ...]; repeat (not tile) keeps a sentence's beams adjacent.
        return tf.repeat(tensor, beam, axis=0)

    states = tf.nest.map_structure(tile, states)
    constants = tf.nest.map_structure(tile, constants)
    row_offsets = tf.range(batch)[:, None] * beam  # [B, 1]: first flat row of each sentence
    neg_inf = tf.constant(_NEG_INF, tf.float32)

    def keep_going(step, inputs, states, raw, norm, finished, lengths, ids):
        # Beams at -inf (impossible hypotheses) never finish but cannot matter.
        settled = tf.logical_or(finished, tf.equal(raw, neg_inf))
        return tf.logical_not(tf.reduce_all(settled))

    def body(step, inputs, states, raw, norm, finished, lengths, ids):
        logits, states = step_fn(inputs, states, constants)
        vocab = tf.shape(logits)[-1]
        log_probs = tf.reshape(tf.nn.log_softmax(tf.cast(logits, tf.float32)), [batch, beam, vocab])
        grown_raw = raw[:, :, None] + log_probs
        grown_norm = grown_raw / gnmt_length_penalty(tf.cast(step + 1, tf.float32), alpha)
        # A finished beam proposes only itself, in its eos column, unchanged.
        eos_column = tf.equal(tf.range(vocab), eos_id)
        is_done = finished[:, :, None]
        cand_raw = tf.where(is_done, tf.where(eos_column, raw[:, :, None], neg_inf), grown_raw)
        cand_norm = tf.where(is_done, tf.where(eos_column, norm[:, :, None], neg_inf), grown_norm)

        norm, flat = tf.math.top_k(tf.reshape(cand_norm, [batch, -1]), k=beam)
        origin, tokens = flat // vocab, flat % vocab
        raw = tf.gather(tf.reshape(cand_raw, [batch, -1]), flat, batch_dims=1)
        was_finished = tf.gather(finished, origin, batch_dims=1)
        is_eos = tf.equal(tokens, eos_id)
        emitted = tf.logical_and(tf.logical_not(was_finished), tf.logical_not(is_eos))
        lengths = tf.gather(lengths, origin, batch_dims=1) + tf.cast(emitted, tf.int32)
        finished = was_finished | is_eos | (lengths >= limits[:, None])
        ids = tf.gather(ids, origin, batch_dims=1)
        ids = tf.concat([ids, tf.where(emitted, tokens, pad_id)[:, :, None]], axis=2)
        flat_origin = tf.reshape(row_offsets + origin, [-1])
        states = tf.nest.map_structure(lambda s: tf.gather(s, flat_origin), states)
        return step + 1, tf.reshape(tokens, [-1]), states, raw, norm, finished, lengths, ids

    # Only beam 0 is live at first; a sentence with limit 0 starts (and ends)
    # with beam 0 as the finished empty hypothesis.
    initial_raw = tf.tile(tf.where(tf.range(beam) == 0, 0.0, neg_inf)[None, :], [batch, 1])
    loop_vars = (
        tf.constant(0),
        tile(start_ids),
        states,
        initial_raw,
        initial_raw,
        tf.tile((limits <= 0)[:, None], [1, beam]),
        tf.zeros([batch, beam], tf.int32),
        tf.zeros([batch, beam, 0], tf.int32),
    )
    matrix = tf.TensorShape([None, None])
    invariants = (
        tf.TensorShape([]),
        tf.TensorShape([None]),
        tf.nest.map_structure(_relaxed_shape, states),
        matrix,
        matrix,
        matrix,
        matrix,
        tf.TensorShape([None, None, None]),
    )
    _, _, _, _, norm, _, lengths, ids = tf.while_loop(
        keep_going, body, loop_vars, shape_invariants=invariants, maximum_iterations=max_new
    )
    # Finished beams may have been re-ranked in any order: sort best first.
    scores, order = tf.math.top_k(norm, k=beam)
    possible = scores > neg_inf
    lengths = tf.where(possible, tf.gather(lengths, order, batch_dims=1), 0)
    ids = tf.gather(ids, order, batch_dims=1)[:, :, : _longest(lengths)]
    ids = tf.where(possible[:, :, None], ids, pad_id)
    return ids, lengths, scores
