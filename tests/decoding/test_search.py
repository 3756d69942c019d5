"""Tests of nlpseq.decoding: greedy search, sampling and beam search.

The model is a toy second-order Markov chain whose step function has the
shape of a real one: logits depend on the previous two tokens (the older one
travels in `states`, so beam search must re-gather states by origin), on a
step counter state of shape [N, 1], and on a per-row bias passed as
`constants` (so beam search must tile constants in the right row order).
NumPy references recompute everything from the same float32 tables.

Most tests run twice: eagerly with Python parameters, and through a
`tf.function` whose `input_signature` has a dynamic batch size and every
scalar parameter as a tensor (as in an exported SavedModel signature).
"""

import re

import numpy as np
import pytest
import tensorflow as tf

from nlpseq.decoding import beam_search, gnmt_length_penalty, sample, top_k_top_p_filter
from nlpseq.errors import InputError

MAX_TIME = 8


class ToyModel:
    """Logits = table[prev, cur] + time_bias[step] + constants (a per-row bias)."""

    def __init__(self, vocab, seed, eos_id, eos_bias=0.0, scale=1.5):
        rng = np.random.default_rng(seed)
        self.vocab = vocab
        self.eos_id = eos_id
        self.table = (rng.normal(size=(vocab, vocab, vocab)) * scale).astype(np.float32)
        self.table[..., eos_id] += np.float32(eos_bias)
        self.time_bias = rng.normal(size=(MAX_TIME, vocab)).astype(np.float32)
        self._table = tf.constant(self.table)
        self._time_bias = tf.constant(self.time_bias)

    def step_fn(self, ids, states, constants):
        rows = tf.shape(ids)[0]
        # The decoder must hand over states and constants with one row per input row.
        tf.debugging.assert_equal(tf.shape(constants), [rows, self.vocab], message="constants not tiled")
        tf.debugging.assert_equal(tf.shape(states["count"]), [rows, 1], message="bad count state")
        tf.debugging.assert_equal(tf.shape(states["prev"]), [rows], message="bad prev state")
        count = tf.minimum(states["count"][:, 0], MAX_TIME - 1)
        logits = tf.gather_nd(self._table, tf.stack([states["prev"], ids], axis=-1))
        logits = logits + tf.gather(self._time_bias, count) + constants
        return logits, {"prev": ids, "count": states["count"] + 1}

    def logits(self, prev, cur, count, bias):
        """NumPy twin of step_fn for one row (same float32 operations)."""
        return (self.table[prev, cur] + self.time_bias[min(count, MAX_TIME - 1)]) + bias


def log_softmax(x):
    x = np.asarray(x, np.float64)
    shifted = x - x.max()
    return shifted - np.log(np.exp(shifted).sum())


def make_inputs(model, batch, seed):
    """Random start tokens, states and per-row biases."""
    rng = np.random.default_rng(seed)
    return {
        "start_ids": rng.integers(0, model.vocab, batch).astype(np.int32),
        "states": {
            "prev": rng.integers(0, model.vocab, batch).astype(np.int32),
            "count": rng.integers(0, 3, (batch, 1)).astype(np.int32),
        },
        "constants": rng.normal(size=(batch, model.vocab)).astype(np.float32),
    }


def row_limits(inputs, max_new_tokens, max_lengths):
    batch = len(inputs["start_ids"])
    if max_lengths is None:
        return [max_new_tokens] * batch
    return [max(0, min(max_new_tokens, int(m))) for m in max_lengths]


def greedy_reference(model, inputs, max_new_tokens, max_lengths=None):
    """Per row: (tokens before eos, log-prob sum including eos)."""
    results = []
    for b, limit in enumerate(row_limits(inputs, max_new_tokens, max_lengths)):
        prev, cur = inputs["states"]["prev"][b], inputs["start_ids"][b]
        count = inputs["states"]["count"][b, 0]
        tokens, score = [], 0.0
        for _ in range(limit):
            logits = model.logits(prev, cur, count, inputs["constants"][b])
            token = int(np.argmax(logits))
            score += log_softmax(logits)[token]
            if token == model.eos_id:
                break
            tokens.append(token)
            prev, cur, count = cur, token, count + 1
        results.append((tokens, score))
    return results


def brute_force(model, inputs, b, limit, alpha):
    """Every hypothesis of row b: {tokens: normalized score}, penalty length incl. eos."""
    hyps = {}
    if limit == 0:
        return {(): 0.0}

    def expand(prev, cur, count, tokens, score):
        scores = log_softmax(model.logits(prev, cur, count, inputs["constants"][b]))
        for v in range(model.vocab):
            total = score + scores[v]
            if v == model.eos_id:
                hyps[tuple(tokens)] = total / ((5 + len(tokens) + 1) / 6) ** alpha
            elif len(tokens) + 1 == limit:
                hyps[tuple(tokens) + (v,)] = total / ((5 + limit) / 6) ** alpha
            else:
                expand(cur, v, count + 1, tokens + [v], total)

    expand(inputs["states"]["prev"][b], inputs["start_ids"][b], inputs["states"]["count"][b, 0], [], 0.0)
    return hyps


def state_spec():
    return {"prev": tf.TensorSpec([None], tf.int32), "count": tf.TensorSpec([None, 1], tf.int32)}


_GRAPHS = {}


def sample_graph(model, strategy, with_max_lengths):
    """A traced `sample` with dynamic batch and tensor parameters (cached per model/options)."""
    key = ("sample", id(model), strategy, with_max_lengths)
    if key not in _GRAPHS:
        signature = [
            tf.TensorSpec([None], tf.int32), state_spec(), tf.TensorSpec([None, model.vocab], tf.float32),
            tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32),
            tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.int64),
            tf.TensorSpec([], tf.int32),
        ] + ([tf.TensorSpec([None], tf.int32)] if with_max_lengths else [])

        @tf.function(input_signature=signature)
        def run(start_ids, states, constants, max_new, eos, temperature, top_k, top_p, seed, pad, *rest):
            return sample(
                model.step_fn, start_ids, states, max_new_tokens=max_new, eos_id=eos, constants=constants,
                strategy=strategy, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                max_lengths=rest[0] if rest else None, pad_id=pad,
            )

        _GRAPHS[key] = run
    return _GRAPHS[key]


def beam_graph(model, with_max_lengths):
    key = ("beam", id(model), with_max_lengths)
    if key not in _GRAPHS:
        signature = [
            tf.TensorSpec([None], tf.int32), state_spec(), tf.TensorSpec([None, model.vocab], tf.float32),
            tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.int32),
        ] + ([tf.TensorSpec([None], tf.int32)] if with_max_lengths else [])

        @tf.function(input_signature=signature)
        def run(start_ids, states, constants, beam_size, max_new, eos, alpha, pad, *rest):
            return beam_search(
                model.step_fn, start_ids, states, beam_size=beam_size, max_new_tokens=max_new, eos_id=eos,
                constants=constants, length_penalty=alpha, max_lengths=rest[0] if rest else None,
                pad_id=pad,
            )

        _GRAPHS[key] = run
    return _GRAPHS[key]


def run_sample(mode, model, inputs, *, max_new_tokens, strategy="greedy", temperature=1.0, top_k=0,
               top_p=1.0, seed=0, max_lengths=None, pad_id=0, eos_id=None):
    eos_id = model.eos_id if eos_id is None else eos_id
    if mode == "eager":
        out = sample(
            model.step_fn, inputs["start_ids"], inputs["states"], constants=inputs["constants"],
            max_new_tokens=max_new_tokens, eos_id=eos_id, strategy=strategy, temperature=temperature,
            top_k=top_k, top_p=top_p, seed=seed, max_lengths=max_lengths, pad_id=pad_id,
        )
    else:
        run = sample_graph(model, strategy, max_lengths is not None)
        extra = [tf.constant(max_lengths, tf.int32)] if max_lengths is not None else []
        out = run(
            tf.constant(inputs["start_ids"]), tf.nest.map_structure(tf.constant, inputs["states"]),
            tf.constant(inputs["constants"]), tf.constant(max_new_tokens), tf.constant(eos_id),
            tf.constant(temperature, tf.float32), tf.constant(top_k), tf.constant(top_p, tf.float32),
            tf.constant(seed, tf.int64), tf.constant(pad_id), *extra,
        )
    return tuple(t.numpy() for t in out)


def run_beam(mode, model, inputs, *, beam_size, max_new_tokens, length_penalty=0.0, max_lengths=None,
             pad_id=0):
    if mode == "eager":
        out = beam_search(
            model.step_fn, inputs["start_ids"], inputs["states"], constants=inputs["constants"],
            beam_size=beam_size, max_new_tokens=max_new_tokens, eos_id=model.eos_id,
            length_penalty=length_penalty, max_lengths=max_lengths, pad_id=pad_id,
        )
    else:
        run = beam_graph(model, max_lengths is not None)
        extra = [tf.constant(max_lengths, tf.int32)] if max_lengths is not None else []
        out = run(
            tf.constant(inputs["start_ids"]), tf.nest.map_structure(tf.constant, inputs["states"]),
            tf.constant(inputs["constants"]), tf.constant(beam_size), tf.constant(max_new_tokens),
            tf.constant(model.eos_id), tf.constant(length_penalty, tf.float32), tf.constant(pad_id), *extra,
        )
    return tuple(t.numpy() for t in out)


def assert_matches_reference(ids, lengths, log_probs, reference, pad_id):
    assert ids.shape == (len(reference), max([len(t) for t, _ in reference] + [0]))
    for b, (tokens, score) in enumerate(reference):
        assert lengths[b] == len(tokens), b
        assert ids[b, : lengths[b]].tolist() == tokens, b
        assert (ids[b, lengths[b]:] == pad_id).all(), b
        np.testing.assert_allclose(log_probs[b], score, rtol=1e-5, atol=1e-5)


# A 5-token model where eos (token 1) is likely enough that rows stop at
# different steps; pad is token 0 unless a test says otherwise.
LM = ToyModel(vocab=5, seed=3, eos_id=1, eos_bias=0.5)
# A 4-token model for exhaustive beam checks (K = 4**3 = 64 covers all).
SMALL = ToyModel(vocab=4, seed=11, eos_id=2, eos_bias=0.3)
MODES = ["eager", "graph"]


# --------------------------------------------------------------------------
# Greedy search and sampling
# --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_greedy_matches_numpy_and_rows_stop_independently(mode):
    inputs = make_inputs(LM, batch=12, seed=0)
    ids, lengths, log_probs = run_sample(mode, LM, inputs, max_new_tokens=7, pad_id=-1)
    reference = greedy_reference(LM, inputs, 7)
    assert_matches_reference(ids, lengths, log_probs, reference, pad_id=-1)
    # The test data must exercise early, independent stops and the length limit.
    assert len(set(lengths.tolist())) >= 3 and lengths.min() < 7 and lengths.max() == 7
    assert ids.dtype == np.int32 and lengths.dtype == np.int32 and log_probs.dtype == np.float32


@pytest.mark.parametrize("mode", MODES)
def test_max_new_tokens_zero_gives_empty_result(mode):
    inputs = make_inputs(LM, batch=3, seed=1)
    ids, lengths, log_probs = run_sample(mode, LM, inputs, max_new_tokens=0, strategy="sample")
    assert ids.shape == (3, 0)
    assert lengths.tolist() == [0, 0, 0] and log_probs.tolist() == [0.0, 0.0, 0.0]
    ids, lengths, scores = run_beam(mode, LM, inputs, beam_size=2, max_new_tokens=0)
    assert ids.shape == (3, 2, 0) and (lengths == 0).all()
    assert scores[:, 0].tolist() == [0.0] * 3 and np.isneginf(scores[:, 1]).all()


@pytest.mark.parametrize("mode", MODES)
def test_max_lengths_limit_each_row(mode):
    inputs = make_inputs(LM, batch=12, seed=0)
    max_lengths = [0, 1, 2, 3, 9, 5, -1, 7, 2, 6, 4, 3]
    ids, lengths, log_probs = run_sample(mode, LM, inputs, max_new_tokens=6, max_lengths=max_lengths)
    reference = greedy_reference(LM, inputs, 6, max_lengths)
    assert_matches_reference(ids, lengths, log_probs, reference, pad_id=0)
    assert (lengths <= np.array(row_limits(inputs, 6, max_lengths))).all()
    assert lengths[0] == 0 and log_probs[0] == 0.0


@pytest.mark.parametrize("mode", MODES)
def test_seeded_sampling_is_reproducible_and_seeds_differ(mode):
    inputs = make_inputs(LM, batch=16, seed=2)
    first = run_sample(mode, LM, inputs, max_new_tokens=6, strategy="sample", seed=7)
    again = run_sample(mode, LM, inputs, max_new_tokens=6, strategy="sample", seed=7)
    other = run_sample(mode, LM, inputs, max_new_tokens=6, strategy="sample", seed=8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_each_step_draws_with_its_own_seed():
    # Identical logits at every step: reusing one seed per step would repeat each row's token.
    def step_fn(ids, states, constants):
        return tf.zeros([tf.shape(ids)[0], 5]), states

    ids, lengths, _ = sample(step_fn, tf.zeros([40], tf.int32), (), max_new_tokens=6, eos_id=-1,
                             strategy="sample", seed=3)
    assert (lengths == 6).numpy().all()
    repeated = tf.reduce_all(tf.equal(ids, ids[:, :1]), axis=1).numpy()
    assert repeated.sum() <= 1


def test_eager_and_graph_sampling_agree():
    inputs = make_inputs(LM, batch=10, seed=4)
    kwargs = dict(max_new_tokens=6, strategy="sample", seed=5, temperature=0.7, top_k=3, top_p=0.9)
    eager = run_sample("eager", LM, inputs, **kwargs)
    graph = run_sample("graph", LM, inputs, **kwargs)
    np.testing.assert_array_equal(eager[0], graph[0])
    np.testing.assert_array_equal(eager[1], graph[1])
    np.testing.assert_allclose(eager[2], graph[2], rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_sampled_log_probs_are_under_the_unmodified_model(mode):
    inputs = make_inputs(LM, batch=8, seed=6)
    ids, lengths, log_probs = run_sample(
        mode, LM, inputs, max_new_tokens=5, strategy="sample", seed=1, temperature=0.5, top_k=3
    )
    for b in range(8):
        prev, cur = inputs["states"]["prev"][b], inputs["start_ids"][b]
        count, total = inputs["states"]["count"][b, 0], 0.0
        tokens = ids[b, : lengths[b]].tolist()
        for token in tokens:
            total += log_softmax(LM.logits(prev, cur, count, inputs["constants"][b]))[token]
            prev, cur, count = cur, token, count + 1
        if lengths[b] < 5:  # stopped by eos, which counts too
            total += log_softmax(LM.logits(prev, cur, count, inputs["constants"][b]))[LM.eos_id]
        np.testing.assert_allclose(log_probs[b], total, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_top_k_1_equals_greedy(mode):
    inputs = make_inputs(LM, batch=12, seed=0)
    greedy = run_sample(mode, LM, inputs, max_new_tokens=7)
    top1 = run_sample(mode, LM, inputs, max_new_tokens=7, strategy="sample", top_k=1, seed=3, temperature=2.0)
    np.testing.assert_array_equal(greedy[0], top1[0])
    np.testing.assert_array_equal(greedy[1], top1[1])
    np.testing.assert_allclose(greedy[2], top1[2], rtol=1e-6)


def first_step_draws(mode, temperature, top_k, top_p, draws=4000):
    """Many one-token draws from the same context; eos_id=-1 so every draw is kept."""
    inputs = make_inputs(LM, batch=1, seed=9)
    inputs = tf.nest.map_structure(lambda x: np.repeat(x, draws, axis=0), inputs)
    ids, lengths, _ = run_sample(
        mode, LM, inputs, max_new_tokens=1, strategy="sample", temperature=temperature, top_k=top_k,
        top_p=top_p, seed=11, eos_id=-1,
    )
    assert (lengths == 1).all()
    logits = LM.logits(inputs["states"]["prev"][0], inputs["start_ids"][0], inputs["states"]["count"][0, 0],
                       inputs["constants"][0])
    return ids[:, 0], logits.astype(np.float64) / temperature


def numpy_filter(scaled, top_k, top_p):
    """Expected (support, renormalized probabilities) of the filtered distribution."""
    order = np.argsort(-scaled, kind="stable")
    keep = np.ones(len(scaled), bool) if top_k == 0 else np.arange(len(scaled)) < top_k
    probs = np.where(keep, np.exp(scaled[order] - scaled.max()), 0.0)
    probs /= probs.sum()
    before = np.cumsum(probs) - probs
    keep &= before < top_p
    support = set(order[keep].tolist())
    final = np.zeros(len(scaled))
    final[order[keep]] = probs[keep]
    return support, final / final.sum()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("temperature,top_k,top_p", [(1.0, 2, 1.0), (1.0, 3, 1.0), (1.3, 0, 1.0)])
def test_top_k_restricts_the_support(mode, temperature, top_k, top_p):
    tokens, scaled = first_step_draws(mode, temperature, top_k, top_p)
    support, probs = numpy_filter(scaled, top_k, top_p)
    assert set(tokens.tolist()) == support
    if top_k:
        assert len(support) == top_k
    freqs = np.bincount(tokens, minlength=LM.vocab) / len(tokens)
    np.testing.assert_allclose(freqs, probs, atol=0.035)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("temperature,top_k,top_p", [(1.0, 0, 0.5), (1.0, 0, 0.8), (0.8, 0, 0.95),
                                                     (1.0, 4, 0.7), (1.0, 0, 1e-4)])
def test_top_p_keeps_exactly_the_nucleus(mode, temperature, top_k, top_p):
    tokens, scaled = first_step_draws(mode, temperature, top_k, top_p)
    support, probs = numpy_filter(scaled, top_k, top_p)
    # Guard the test data: the nucleus boundary is not within rounding of top_p.
    order = np.argsort(-scaled)
    _, unfiltered = numpy_filter(scaled, top_k, 1.0)
    mass = np.cumsum(unfiltered[order])
    assert np.abs(mass - top_p).min() > 1e-3
    assert set(tokens.tolist()) == support
    assert 1 <= len(support) < LM.vocab
    freqs = np.bincount(tokens, minlength=LM.vocab) / len(tokens)
    np.testing.assert_allclose(freqs, probs, atol=0.035)


def test_top_k_top_p_filter_helper():
    logits = tf.constant([[1.0, 3.0, 3.0, 0.5, 2.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    removed = np.finfo(np.float32).min
    out = top_k_top_p_filter(logits, 2, 1.0).numpy()
    # Exactly k survive even with ties; ties go to the lower id.
    np.testing.assert_array_equal(out[0], [removed, 3.0, 3.0, removed, removed])
    np.testing.assert_array_equal(out[1], [0.0, 0.0, removed, removed, removed])
    np.testing.assert_array_equal(top_k_top_p_filter(logits, 0, 1.0).numpy(), logits.numpy())
    np.testing.assert_array_equal(top_k_top_p_filter(logits, 99, 1.0).numpy(), logits.numpy())
    # A tiny top_p keeps only the best token.
    out = top_k_top_p_filter(logits, 0, 1e-6).numpy()
    assert (out != removed).sum(axis=1).tolist() == [1, 1]
    # Uniform over 5: 0.2 per token, so top_p=0.5 needs three tokens.
    out = top_k_top_p_filter(logits, tf.constant(0), tf.constant(0.5)).numpy()
    assert (out[1] != removed).sum() == 3
    # top_p applies to the distribution left by top_k: 2 of the 4 kept tokens.
    out = top_k_top_p_filter(logits, 4, 0.5).numpy()
    assert (out[1] != removed).sum() == 2
    # A batch of a rank-3 tensor works the same.
    out3 = top_k_top_p_filter(tf.reshape(logits, [1, 2, 5]), 2, 1.0).numpy()
    np.testing.assert_array_equal(out3[0], top_k_top_p_filter(logits, 2, 1.0).numpy())


# --------------------------------------------------------------------------
# Beam search
# --------------------------------------------------------------------------


def finite_nbest(ids, lengths, scores, b):
    """Row b's real hypotheses as [(tokens, score)], in the returned order."""
    out = []
    for k in range(scores.shape[1]):
        if np.isfinite(scores[b, k]):
            out.append((tuple(ids[b, k, : lengths[b, k]].tolist()), float(scores[b, k])))
        else:
            assert lengths[b, k] == 0 and (ids[b, k] == 0).all()
    return out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.6])
def test_exhaustive_beam_equals_brute_force(mode, alpha):
    # K = V**T keeps every hypothesis, so the n-best list is the full ranking.
    inputs = make_inputs(SMALL, batch=4, seed=5)
    max_lengths = [3, 2, 3, 0]
    ids, lengths, scores = run_beam(
        mode, SMALL, inputs, beam_size=64, max_new_tokens=3, length_penalty=alpha, max_lengths=max_lengths
    )
    assert ids.shape == (4, 64, 3) and lengths.shape == (4, 64) and scores.shape == (4, 64)
    early_eos_in_top = 0
    for b, limit in enumerate(max_lengths):
        expected = brute_force(SMALL, inputs, b, limit, alpha)
        got = finite_nbest(ids, lengths, scores, b)
        assert len(got) == len(expected)
        assert {tokens for tokens, _ in got} == set(expected)
        for tokens, score in got:
            np.testing.assert_allclose(score, expected[tokens], rtol=1e-5, atol=1e-5)
        assert all(got[i][1] >= got[i + 1][1] for i in range(len(got) - 1))
        best = max(expected, key=expected.get)
        assert got[0][0] == best
        early_eos_in_top += sum(len(tokens) < limit for tokens, _ in got[:3])
        assert (ids[b][lengths[b][:, None] <= np.arange(3)] == 0).all()  # pads after the end
    # The data must rank hypotheses that ended early with eos near the top.
    assert early_eos_in_top >= 2


@pytest.mark.parametrize("mode", MODES)
def test_length_penalty_changes_the_winner(mode):
    # Guards the penalty direction: alpha > 0 favours longer hypotheses.
    inputs = make_inputs(SMALL, batch=4, seed=0)
    winners = {}
    for alpha in (0.0, 1.0):
        ids, lengths, scores = run_beam(
            mode, SMALL, inputs, beam_size=64, max_new_tokens=3, length_penalty=alpha
        )
        winners[alpha] = lengths[:, 0]
        for b in range(4):
            expected = brute_force(SMALL, inputs, b, 3, alpha)
            assert finite_nbest(ids, lengths, scores, b)[0][0] == max(expected, key=expected.get)
    assert (winners[1.0] >= winners[0.0]).all() and (winners[1.0] > winners[0.0]).any()


@pytest.mark.parametrize("mode", MODES)
def test_small_beam_nbest_is_sorted_distinct_and_scored_right(mode):
    inputs = make_inputs(LM, batch=6, seed=7)
    ids, lengths, scores = run_beam(mode, LM, inputs, beam_size=4, max_new_tokens=5, length_penalty=0.8,
                                    pad_id=-3)
    assert ids.shape[:2] == (6, 4) and ids.shape[2] == lengths.max()
    for b in range(6):
        assert (np.diff(scores[b]) <= 0).all() and np.isfinite(scores[b]).all()
        hyps = [tuple(ids[b, k, : lengths[b, k]].tolist()) for k in range(4)]
        assert len(set(hyps)) == 4
        assert all((ids[b, k, lengths[b, k]:] == -3).all() for k in range(4))
        expected = brute_force(LM, inputs, b, 5, 0.8)
        for hyp, score in zip(hyps, scores[b]):
            np.testing.assert_allclose(score, expected[hyp], rtol=1e-5, atol=1e-5)
        # No hypothesis can score above the exhaustive optimum.
        assert scores[b, 0] <= max(expected.values()) + 1e-5


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_beam_size_1_equals_greedy(mode, alpha):
    inputs = make_inputs(LM, batch=12, seed=0)
    max_lengths = [7, 7, 3, 0, 7, 2, 7, 7, 5, 7, 1, 7]
    ids, lengths, log_probs = run_sample(mode, LM, inputs, max_new_tokens=7, max_lengths=max_lengths)
    b_ids, b_lengths, b_scores = run_beam(
        mode, LM, inputs, beam_size=1, max_new_tokens=7, length_penalty=alpha, max_lengths=max_lengths
    )
    np.testing.assert_array_equal(b_ids[:, 0], ids)
    np.testing.assert_array_equal(b_lengths[:, 0], lengths)
    finished_with_eos = lengths < np.minimum(7, max_lengths)
    penalty = ((5.0 + lengths + finished_with_eos) / 6.0) ** alpha
    np.testing.assert_allclose(b_scores[:, 0], log_probs / penalty, rtol=1e-5, atol=1e-6)


def test_gnmt_length_penalty():
    np.testing.assert_allclose(gnmt_length_penalty(tf.constant(7.0), 1.0).numpy(), 2.0)
    np.testing.assert_allclose(gnmt_length_penalty(tf.constant(3.0), 0.0).numpy(), 1.0)


# --------------------------------------------------------------------------
# Tracing: dynamic batch size, one graph
# --------------------------------------------------------------------------


def test_one_trace_serves_every_batch_size_and_parameter():
    inputs = make_inputs(LM, batch=12, seed=0)
    small = tf.nest.map_structure(lambda x: x[:5], inputs)
    for batch_inputs in (inputs, small, tf.nest.map_structure(lambda x: x[:0], inputs)):
        run_sample("graph", LM, batch_inputs, max_new_tokens=4, strategy="sample", top_k=2, seed=1)
        run_sample("graph", LM, batch_inputs, max_new_tokens=0, strategy="sample", top_p=0.5)
        ids, lengths, scores = run_beam("graph", LM, batch_inputs, beam_size=3, max_new_tokens=4)
        assert ids.shape[:2] == (len(batch_inputs["start_ids"]), 3)
        run_beam("graph", LM, batch_inputs, beam_size=1, max_new_tokens=2, length_penalty=0.5)
    assert sample_graph(LM, "sample", False).experimental_get_tracing_count() == 1
    assert beam_graph(LM, False).experimental_get_tracing_count() == 1
    # An empty batch gives empty results.
    assert ids.shape == (0, 3, 0) and lengths.shape == (0, 3)


def test_stateless_step_fn_without_constants():
    table = tf.constant(np.random.default_rng(0).normal(size=(5, 5)).astype(np.float32))

    def step_fn(ids, states, constants):
        assert constants == ()
        return tf.gather(table, ids), states

    ids, lengths, _ = sample(step_fn, tf.constant([0, 3]), (), max_new_tokens=4, eos_id=1)
    assert ids.shape[0] == 2 and lengths.shape == (2,)
    ids, lengths, _ = beam_search(step_fn, tf.constant([0, 3]), (), beam_size=2, max_new_tokens=4, eos_id=1)
    assert ids.shape[:2] == (2, 2)


# --------------------------------------------------------------------------
# Argument errors
# --------------------------------------------------------------------------


def call_sample(**overrides):
    inputs = make_inputs(LM, batch=2, seed=0)
    kwargs = dict(max_new_tokens=3, eos_id=1, constants=inputs["constants"], strategy="sample")
    kwargs.update(overrides)
    return sample(LM.step_fn, inputs["start_ids"], inputs["states"], **kwargs)


def call_beam(**overrides):
    inputs = make_inputs(LM, batch=2, seed=0)
    kwargs = dict(beam_size=2, max_new_tokens=3, eos_id=1, constants=inputs["constants"])
    kwargs.update(overrides)
    return beam_search(LM.step_fn, inputs["start_ids"], inputs["states"], **kwargs)


BAD_SAMPLE_ARGS = [
    (dict(strategy="beam"), "strategy must be one of greedy, sample, got 'beam'"),
    (dict(max_new_tokens=-1), "max_new_tokens must be >= 0, got -1"),
    (dict(max_new_tokens=2.5), "max_new_tokens must be an integer, got 2.5"),
    (dict(max_new_tokens=None), "max_new_tokens must be an integer or a scalar tensor, got None"),
    (dict(temperature=0.0), "temperature must be > 0, got 0.0"),
    (dict(temperature=-1), "temperature must be > 0, got -1"),
    (dict(top_k=-2), "top_k must be >= 0 (0 means off), got -2"),
    (dict(top_p=0.0), "top_p must be in (0, 1] (1 means off), got 0.0"),
    (dict(top_p=1.5), "top_p must be in (0, 1] (1 means off), got 1.5"),
    (dict(max_lengths=[1, 2, 3]), "max_lengths must have one entry per row (2), got 3"),
]


@pytest.mark.parametrize("overrides,message", BAD_SAMPLE_ARGS)
def test_bad_python_arguments_raise_input_error(overrides, message):
    with pytest.raises(InputError) as info:
        call_sample(**overrides)
    assert str(info.value) == message


def test_bad_beam_arguments_raise_input_error():
    with pytest.raises(InputError, match=r"^beam_size must be >= 1, got 0$"):
        call_beam(beam_size=0)
    with pytest.raises(InputError, match=r"^max_new_tokens must be >= 0, got -4$"):
        call_beam(max_new_tokens=-4)
    with pytest.raises(InputError, match=r"^top_k must be >= 0 \(0 means off\), got -1$"):
        top_k_top_p_filter(tf.zeros([1, 3]), -1, 1.0)


BAD_TENSOR_ARGS = [
    ("max_new_tokens", tf.int32, -1, "max_new_tokens must be >= 0"),
    ("temperature", tf.float32, 0.0, "temperature must be > 0"),
    ("top_k", tf.int32, -1, "top_k must be >= 0 (0 means off)"),
    ("top_p", tf.float32, 0.0, "top_p must be in (0, 1] (1 means off)"),
    ("top_p", tf.float32, 1.01, "top_p must be in (0, 1] (1 means off)"),
]


@pytest.mark.parametrize("name,dtype,value,message", BAD_TENSOR_ARGS)
def test_bad_tensor_arguments_fail_with_the_same_message(name, dtype, value, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match="^" + re.escape(message)):
        call_sample(**{name: tf.constant(value, dtype)})

    @tf.function(input_signature=[tf.TensorSpec([], dtype)])
    def traced(param):
        return call_sample(**{name: param})

    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(message)):
        traced(tf.constant(value, dtype))


def test_bad_tensor_beam_size_fails_in_graph():
    @tf.function(input_signature=[tf.TensorSpec([], tf.int32)])
    def traced(beam_size):
        return call_beam(beam_size=beam_size)

    with pytest.raises(tf.errors.InvalidArgumentError, match="beam_size must be >= 1"):
        traced(tf.constant(0))
    assert traced(tf.constant(2))[0].shape[:2] == (2, 2)


def test_non_scalar_and_float_tensor_parameters_are_rejected():
    with pytest.raises(InputError, match="top_k must be a scalar"):
        call_sample(top_k=tf.constant([1, 2]))
    with pytest.raises(InputError, match="beam_size must be an integer tensor"):
        call_beam(beam_size=tf.constant(2.0))
