"""Seq2SeqModel and the attention layers: teacher forcing equals step-by-step decoding, masks, options."""

import keras
import numpy as np
import pytest

from nlpseq.errors import ConfigError
from nlpseq.layers import Attention
from nlpseq.models import Seq2SeqModel

SOURCE = np.array([[3, 4, 5, 2, 0], [6, 7, 2, 0, 0]], "int32")
TARGET_IN = np.array([[1, 8, 9, 10], [1, 11, 12, 0]], "int32")


def model(**kwargs):
    keras.utils.set_random_seed(0)
    options = dict(embedding_dim=6, encoder_units=4, decoder_units=8, dropout=0.0)
    options.update(kwargs)
    m = Seq2SeqModel(20, 25, **options)
    m({"source": SOURCE, "target_in": TARGET_IN})
    return m


@pytest.mark.parametrize("attention", ["dot", "general", "bahdanau"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_step_by_step_decoding_equals_teacher_forcing(attention, cell):
    m = model(attention=attention, cell=cell, decoder_layers=2)
    logits = np.asarray(m({"source": SOURCE, "target_in": TARGET_IN}))
    constants, states = m.encode(SOURCE)
    steps = []
    for t in range(TARGET_IN.shape[1]):
        step_logits, states = m.step(TARGET_IN[:, t], states, constants)
        steps.append(np.asarray(step_logits))
    np.testing.assert_allclose(np.stack(steps, 1), logits, atol=1e-5)
    # Input feeding: the first step's output depends on the previous steps only through the states.
    assert not np.allclose(logits[:, 1], logits[:, 2])


def test_attention_ignores_padding_and_sums_to_one():
    m = model()
    weights = np.asarray(m.attention_weights(SOURCE, TARGET_IN))
    assert weights.shape == (2, 4, 5)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert np.all(weights[0, :, 4] < 1e-6) and np.all(weights[1, :, 3:] < 1e-6)
    # Changing a padded position changes nothing.
    padded = SOURCE.copy()
    padded[1, 4] = 0
    np.testing.assert_allclose(m({"source": padded, "target_in": TARGET_IN}),
                               m({"source": SOURCE, "target_in": TARGET_IN}), atol=1e-6)


def test_dot_attention_needs_equal_sizes():
    with pytest.raises(ConfigError, match="dot attention needs"):
        model(attention="dot", decoder_units=6)
    with pytest.raises(ConfigError, match="unknown attention type"):
        Attention("cosine")


def test_tied_and_shared_embeddings_reduce_parameters_and_reload(tmp_path):
    plain = model()
    tied = model(tie_embeddings=True)
    assert tied.count_params() == plain.count_params() - (8 * 25 + 25) + 8 * 6 + 25
    keras.utils.set_random_seed(0)
    shared = Seq2SeqModel(25, 25, embedding_dim=6, encoder_units=4, decoder_units=6, share_embeddings=True,
                          tie_embeddings=True)
    shared({"source": SOURCE, "target_in": TARGET_IN})
    assert shared.source_embedding is shared.target_embedding
    shared.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again({"source": SOURCE, "target_in": TARGET_IN}),
                               shared({"source": SOURCE, "target_in": TARGET_IN}), atol=1e-6)
    with pytest.raises(ConfigError, match="share_embeddings needs one joint vocabulary"):
        Seq2SeqModel(20, 25, share_embeddings=True)


def test_label_smoothing_loss():
    m = model(label_smoothing=0.2)
    logits = m({"source": SOURCE, "target_in": TARGET_IN})
    targets = np.array([[8, 9, 10, 2], [11, 12, 2, 0]], "int32")
    logp = np.asarray(keras.ops.log_softmax(logits))
    mask = targets != 0
    nll = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    expected = ((0.8 * nll + 0.2 * -logp.mean(-1)) * mask).sum() / mask.sum()
    assert float(m.compute_loss(y=targets, y_pred=logits)) == pytest.approx(expected, rel=1e-5)
