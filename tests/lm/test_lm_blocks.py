"""Language-model building blocks: stream windows, state carrying, perplexity, text encoder."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from nlpseq.data.lm_stream import stream_arrays, stream_windows
from nlpseq.errors import ConfigError, ModelDirError
from nlpseq.layers import RecurrentStack
from nlpseq.models import RNNLanguageModel
from nlpseq.tokenizers.text_encoder import TextEncoder
from nlpseq.training.perplexity import perplexity, stream_log_likelihood
from nlpseq.training.tbptt import StreamTrainer


def small_lm(cell="lstm", tie=True, units=6, vocab=12, seed=0):
    keras.utils.set_random_seed(seed)
    lm = RNNLanguageModel(vocab, embedding_dim=5, units=units, num_layers=2, cell=cell, tie_weights=tie)
    lm(np.ones((1, 1), "int32"))
    return lm


# --- the stream ----------------------------------------------------------------------------
def test_stream_arrays_rows_are_contiguous_and_targets_shifted():
    ids = np.arange(1, 12)  # 10 targets: 2..11
    x, y, w = stream_arrays(ids, 3, keep_tail=False)
    assert x.shape == (3, 3)  # 10 // 3 columns, the last target dropped
    np.testing.assert_array_equal(x.ravel(), np.arange(1, 10))
    np.testing.assert_array_equal(y.ravel(), np.arange(2, 11))
    assert w.sum() == 9


def test_stream_arrays_keep_tail_scores_every_target_once():
    ids = np.arange(1, 12)
    x, y, w = stream_arrays(ids, 3, keep_tail=True)
    assert x.shape == (3, 4)
    assert sorted(y[w > 0].tolist()) == list(range(2, 12))
    assert (y[w == 0] == 0).all()


def test_stream_windows_are_consecutive_and_cover_the_rows():
    ids = np.arange(1, 42)
    ds, steps = stream_windows(ids, 4, 3)
    windows = list(ds.as_numpy_iterator())
    assert steps == len(windows) == 4  # rows of 10 -> windows of 3, 3, 3, 1
    assert [w[0].shape[1] for w in windows] == [3, 3, 3, 1]
    x, _, _ = stream_arrays(ids, 4, keep_tail=False)
    np.testing.assert_array_equal(np.concatenate([w[0] for w in windows], axis=1), x)


def test_stream_too_short_is_a_clear_error():
    with pytest.raises(ConfigError, match="too short"):
        stream_arrays(np.arange(1, 4), 5, keep_tail=False)


# --- the model -----------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["lstm", "gru", "simple"])
def test_forward_in_two_windows_equals_one_pass(cell):
    lm = small_lm(cell)
    ids = np.random.default_rng(0).integers(1, 12, size=(2, 9)).astype("int32")
    full, _ = lm.forward(ids)
    first, states = lm.forward(ids[:, :4])
    second, _ = lm.forward(ids[:, 4:], states)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), full, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple"])
def test_step_matches_forward(cell):
    lm = small_lm(cell)
    ids = np.array([[3, 4, 5]], "int32")
    full, _ = lm.forward(ids)
    states = lm.zero_states(1)
    for t in range(3):
        logits, states = lm.step(ids[:, t], states)
        np.testing.assert_allclose(logits, full[:, t], atol=1e-5)


def test_masked_forward_keeps_each_rows_last_state():
    lm = small_lm()
    padded = np.array([[3, 4, 5, 6], [7, 8, 0, 0]], "int32")
    _, states = lm.forward(padded, mask=padded != 0)
    _, short = lm.forward(padded[1:, :2])
    for s, ref in zip(states, short):
        np.testing.assert_allclose(s[1:], ref, atol=1e-5)


def test_tied_weights_share_the_embedding_and_untied_adds_an_output_layer():
    tied, untied = small_lm(tie=True), small_lm(tie=False)
    # 6 units vs 5 embedding dims: the tied model projects 6 -> 5 and reuses the 12 x 5 table.
    assert tied.count_params() == untied.count_params() - (6 * 12 + 12) + 6 * 5 + 12
    reloaded = RNNLanguageModel.from_config(tied.get_config())
    assert reloaded.get_config() == tied.get_config()


def test_embedding_dropout_drops_whole_word_types():
    keras.utils.set_random_seed(3)
    lm = RNNLanguageModel(50, embedding_dim=4, units=4, num_layers=1, embedding_dropout=0.5)
    lm(np.ones((1, 1), "int32"))
    ids = np.array([[7] * 6 + [9] * 6], "int32")
    rows = np.asarray(lm._embed(ids, training=True))[0]
    for word_rows in (rows[:6], rows[6:]):  # every occurrence of a word is kept or dropped together
        assert np.allclose(word_rows, word_rows[0])


def _recurrent_kernel_gradients(stack, x):
    """Gradients of a stack's output sum w.r.t. each layer's (input kernel, recurrent kernel), training mode."""
    with tf.GradientTape() as tape:
        y, _ = stack(x, training=True)
        loss = tf.reduce_sum(y)
    kernels = [(rnn.cell.kernel, rnn.cell.recurrent_kernel) for rnn in stack.rnns]
    grads = tape.gradient(loss, [k.value for pair in kernels for k in pair])
    return [(np.asarray(grads[i]), np.asarray(grads[i + 1])) for i in range(0, len(grads), 2)]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_weight_drop_masks_the_recurrent_matrix_once_per_call(cell):
    keras.utils.set_random_seed(5)
    stack = RecurrentStack(16, cell=cell, num_layers=2, weight_drop=0.5)
    x = np.random.default_rng(0).normal(size=(3, 9, 4)).astype("float32")
    for input_grad, recurrent_grad in _recurrent_kernel_gradients(stack, x):
        # A dropped weight gets no gradient at any step, so about half the entries are exactly
        # zero; a mask redrawn per step would leave almost none.
        zeros = float(np.mean(recurrent_grad == 0))
        assert 0.35 < zeros < 0.65
        assert np.mean(input_grad == 0) < 0.1  # the input matrix is not dropped
    # Inference uses the whole matrix: the same outputs as a stack without weight drop.
    plain = RecurrentStack(16, cell=cell, num_layers=2)
    plain.build(x.shape)
    plain.set_weights(stack.get_weights())
    np.testing.assert_allclose(np.asarray(stack(x, training=False)[0]), np.asarray(plain(x)[0]), atol=1e-6)
    a, b = (np.asarray(stack(x, training=True)[0]) for _ in range(2))
    assert not np.allclose(a, b)  # a new mask each call


def test_weight_drop_is_validated_and_round_trips():
    with pytest.raises(ConfigError, match=r"weight_drop must be in \[0, 1\)"):
        RecurrentStack(4, weight_drop=1.0)
    lm = RNNLanguageModel(12, embedding_dim=5, units=6, num_layers=2, weight_drop=0.3)
    assert RNNLanguageModel.from_config(lm.get_config()).stack.weight_drop == 0.3


def test_recurrent_stack_rejects_a_wrong_number_of_states():
    stack = RecurrentStack(4, cell="lstm", num_layers=2)
    with pytest.raises(ConfigError, match="expects 4 state tensors"):
        stack(np.zeros((1, 2, 3), "float32"), initial_state=[np.zeros((1, 4), "float32")])


def test_stream_trainer_carries_state_between_windows_and_resets():
    lm = small_lm()
    trainer = StreamTrainer(lm, batch_size=2)
    ids = np.random.default_rng(1).integers(1, 12, size=(2, 8)).astype("int32")
    full, _ = lm.forward(ids)
    first = trainer(ids[:, :5])
    second = trainer(ids[:, 5:])
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), full, atol=1e-5)
    trainer.reset_states()
    np.testing.assert_allclose(trainer(ids[:, :5]), first, atol=1e-5)


# --- perplexity ------------------------------------------------------------------------------
def brute_force_nll(lm, ids):
    logits, _ = lm.forward(np.asarray(ids[:-1], "int32")[None])
    logp = tf.nn.log_softmax(logits[0]).numpy()
    return -sum(logp[t, ids[t + 1]] for t in range(len(ids) - 1))


def test_stream_log_likelihood_matches_brute_force_and_ignores_window_size():
    lm = small_lm()
    ids = np.random.default_rng(2).integers(1, 12, size=40).astype("int32")
    ref = brute_force_nll(lm, ids)
    for bptt in (3, 7, 100):
        nll, tokens = stream_log_likelihood(lm, ids, batch_size=1, bptt=bptt)
        assert tokens == 39
        assert nll == pytest.approx(ref, rel=1e-4)
    nll4, tokens4 = stream_log_likelihood(lm, ids, batch_size=4, bptt=5)
    assert tokens4 == 39  # padding of the last row is not scored


def test_uniform_model_has_perplexity_equal_to_the_vocabulary_size():
    lm = small_lm(tie=False)
    for w in lm.output_layer.weights:
        w.assign(np.zeros(w.shape, "float32"))
    nll, tokens = stream_log_likelihood(lm, np.arange(1, 30) % 11 + 1, batch_size=2, bptt=4)
    assert perplexity(nll, tokens) == pytest.approx(12, rel=1e-5)
    assert math.isnan(perplexity(0.0, 0))


# --- text encoder --------------------------------------------------------------------------------
LINES = ["the cat sat on the mat", "the dog sat", "a cat ran to the dog"]


def test_word_encoder_round_trip_and_tf_path_agree(tmp_path):
    enc = TextEncoder.build(LINES, kind="word")
    ids = enc.encode("the cat flew")
    assert ids[-1] == enc.unk_id and enc.decode(ids[:2] + [enc.eos_id] + ids[:1]) == "the cat"
    tf_ids = enc.tf_encode(tf.constant(["the cat flew", ""])).to_list()
    assert tf_ids == [ids, []]
    texts = enc.tf_decode(tf.constant([ids[:2] + [0], [0, 0, 0]])).numpy().tolist()
    assert texts == [b"the cat", b""]
    enc.save(tmp_path, "text")
    again = TextEncoder.load(tmp_path, "text")
    assert again.encode("a dog ran") == enc.encode("a dog ran") and again.eos_id == enc.eos_id


def test_sentencepiece_encoder_round_trip(tmp_path):
    enc = TextEncoder.build(LINES * 20, kind="sentencepiece", vocab_size=20)
    ids = enc.encode("the cat sat")
    assert enc.decode(ids) == "the cat sat"
    assert enc.tf_encode(tf.constant(["the cat sat"])).to_list() == [ids]
    assert enc.tf_decode(tf.constant([ids + [0]])).numpy().tolist() == [b"the cat sat"]
    enc.save(tmp_path, "text")
    assert TextEncoder.load(tmp_path, "text").encode("the dog") == enc.encode("the dog")


def test_encoder_load_errors_name_the_file(tmp_path):
    with pytest.raises(ModelDirError, match="text.encoder.json: missing"):
        TextEncoder.load(tmp_path, "text")
    (tmp_path / "text.encoder.json").write_text("[]")
    with pytest.raises(ModelDirError, match="not a text encoder"):
        TextEncoder.load(tmp_path, "text")
    with pytest.raises(ConfigError, match="unknown tokenizer kind"):
        TextEncoder.build(LINES, kind="chars")
