"""A tagger of several branches (`encoder.branches`): one set of word features, K encoder + head branches."""

import keras
import numpy as np
import pytest

from nlpseq.errors import ConfigError
from nlpseq.layers.heads import masked_softmax_cross_entropy
from nlpseq.models.tagger import SequenceTagger
from tests.conftest import run_training, tiny_tagger_overrides
from tests.helpers import crf_brute_force

WORDS = np.array([[3, 4, 5, 6], [7, 8, 9, 0], [10, 0, 0, 0]], "int32")
TAGS = np.array([[1, 2, 0, 3], [0, 1, 2, 0], [3, 0, 0, 0]], "int32")
LENGTHS = (WORDS != 0).sum(axis=1)


def _tagger(branches, head="crf"):
    keras.utils.set_random_seed(0)
    # No dropout, so a training call gives the same branch scores as serving.
    return SequenceTagger(word_vocab_size=20, num_tags=4, word_dim=6, char_vocab_size=0, casing_dim=0, units=5,
                          head=head, branches=branches, feature_dropout=0.0, encoder_dropout=0.0, head_dropout=0.0)


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_crf_branches_decode_the_product_of_their_crfs():
    model = _tagger(branches=3)
    inputs = {"words": WORDS}
    branch_scores = _numpy(model(inputs, training=True))
    assert branch_scores.shape == (3, 3, 4, 4)
    combined = _numpy(model(inputs, training=False))
    np.testing.assert_allclose(combined, branch_scores.sum(axis=0), rtol=1e-5, atol=1e-6)

    # The best path under the sum of the three CRFs' path scores, found by enumeration.
    crfs = [model.crf] + model.extra_crfs
    assert len(crfs) == 3
    weights = [sum(_numpy(w) for w in ws) for ws in zip(*(crf._weights() for crf in crfs))]
    best = crf_brute_force(branch_scores.sum(axis=0), LENGTHS, *weights)["best_tags"]
    np.testing.assert_array_equal(_numpy(model.decode(inputs)), best)
    # ... which differs from what the first branch alone would say, or the test shows nothing.
    alone = crf_brute_force(branch_scores[0], LENGTHS, *(_numpy(w) for w in model.crf._weights()))["best_tags"]
    assert not np.array_equal(alone, best)


def test_each_branch_learns_with_its_own_loss():
    model = _tagger(branches=2)
    inputs = {"words": WORDS}
    branch_scores = model(inputs, training=True)
    mask = WORDS != 0
    expected = sum(-keras.ops.mean(crf.log_likelihood(branch_scores[k], TAGS, mask))
                   for k, crf in enumerate([model.crf] + model.extra_crfs))
    loss = model.compute_loss(inputs, TAGS, branch_scores)
    np.testing.assert_allclose(_numpy(loss), _numpy(expected), rtol=1e-6)


def test_softmax_branches_add_log_probabilities():
    model = _tagger(branches=2, head="softmax")
    inputs = {"words": WORDS}
    branch_scores = _numpy(model(inputs, training=True))
    log_probs = branch_scores - np.log(np.exp(branch_scores).sum(axis=-1, keepdims=True))
    expected = np.where(WORDS != 0, log_probs.sum(axis=0).argmax(axis=-1), 0)
    np.testing.assert_array_equal(_numpy(model.decode(inputs)), expected)
    loss = model.compute_loss(inputs, TAGS, model(inputs, training=True))
    mask = WORDS != 0
    reference = sum(masked_softmax_cross_entropy(branch_scores[k], TAGS, mask) for k in range(2))
    np.testing.assert_allclose(_numpy(loss), _numpy(reference), rtol=1e-6)


def test_branches_survive_saving_and_one_branch_keeps_its_weight_names(tmp_path):
    model = _tagger(branches=2)
    inputs = {"words": WORDS}
    before = _numpy(model.decode(inputs))
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    assert restored.branches == 2
    np.testing.assert_array_equal(_numpy(restored.decode(inputs)), before)
    # A one-branch tagger has the names the shipped models were saved with.
    single = _tagger(branches=1)
    single(inputs)
    names = {w.path.removeprefix(f"{single.name}/") for w in single.weights}
    assert {"crf/transitions", "encoder/bilstm_0/forward_lstm_0/lstm_cell/kernel", "tag_head/scores/kernel"} <= names
    assert not any(name.split("/")[0].endswith("_2") for name in names)
    assert any(w.path.removeprefix(f"{restored.name}/").startswith("encoder_2/") for w in restored.weights)


@pytest.mark.parametrize("branches", [0, 1.5, "2"])
def test_a_bad_branch_count_is_refused(branches):
    with pytest.raises(ConfigError, match="encoder.branches"):
        SequenceTagger(word_vocab_size=20, num_tags=4, branches=branches)


FROZEN = "training.freeze=[word_embedding,char_embedding,casing_embedding,encoder,tag_head,crf]"


def _relative_weights(model):
    return {w.path.removeprefix(f"{model.name}/"): keras.ops.convert_to_numpy(w) for w in model.weights}


def _assert_serves_keras_tags(out, model, test_file):
    """The directory's SavedModel tags `test_file` as the Keras `model` does."""
    from nlpseq import Tagger
    from nlpseq.data.features import TaggingFeatures
    from nlpseq.readers import read_conll
    from nlpseq.training.evaluation import predict_tags

    sentences = [list(s.words) for s in read_conll(test_file)]
    expected = predict_tags(model, TaggingFeatures.load(out / "assets"), sentences)
    assert [[t for _, t in row] for row in Tagger.load(out).tag_batch(sentences)] == expected


def test_a_branch_grows_beside_a_trained_tagger_whose_weights_stay(tmp_path, tiny_ner_model, capsys):
    from tests.conftest import run_state

    files, source_dir = tiny_ner_model["files"], tiny_ner_model["out"]
    # float16 storage, as the shipped taggers use: the SavedModel reads every branch's copies.
    overrides = tiny_tagger_overrides(files, epochs=3) + [
        "encoder.branches=2", f"training.init_from={source_dir}", FROZEN, "export.weights_dtype=float16"]
    capsys.readouterr()
    assert run_training("ner", tmp_path, "grown", overrides) == 0
    out = capsys.readouterr().out
    model = keras.models.load_model(tmp_path / "grown" / "model.keras", compile=False)
    assert model.branches == 2
    source = _relative_weights(keras.models.load_model(source_dir / "model.keras", compile=False))
    grown = _relative_weights(model)
    assert f"initialised {len(source)} of {len(grown)} weights" in out
    # Every weight of the trained tagger is there unchanged (up to the float16 storage of both
    # directories' weights): the frozen features and branch 1.
    for name, value in source.items():
        np.testing.assert_array_equal(grown[name], value.astype(np.float16).astype(np.float32), err_msg=name)
    # Only the new branch trains, so the falling loss is its learning.
    losses = [epoch["loss"] for epoch in run_state(tmp_path, "grown")["history"]]
    assert losses[-1] < 0.9 * losses[0]
    # The run uses the trained tagger's vocabularies, so its word ids mean the same words.
    assert (tmp_path / "w-grown" / "features" / "words.vocab.txt").read_text() == \
        (source_dir / "assets" / "words.vocab.txt").read_text()
    # The SavedModel of the two-branch tagger tags as its Keras model.
    _assert_serves_keras_tags(tmp_path / "grown", model, files["test"])
    # The card says what the model is and what it grew from.
    card = (tmp_path / "grown" / "README.md").read_text()
    assert "→ 2 branches of (BiLSTM 1×8 → crf), tagging by Viterbi over their summed scores" in card
    assert f"- started from: `{source_dir}`" in card
    assert "- frozen in training: word_embedding, char_embedding" in card


def test_a_grown_branch_with_an_int8_table_serves_and_re_exports_the_same_tags(tmp_path, tiny_ner_model):
    """The shipped NER model's combination: two branches, an int8 word table, `nlpseq export` after."""
    from nlpseq.cli import main

    files, source_dir = tiny_ner_model["files"], tiny_ner_model["out"]
    overrides = tiny_tagger_overrides(files, epochs=1) + [
        "encoder.branches=2", f"training.init_from={source_dir}", FROZEN, "export.weights_dtype=int8"]
    assert run_training("ner", tmp_path, "grown", overrides) == 0
    out = tmp_path / "grown"
    model = keras.models.load_model(out / "model.keras", compile=False)
    assert model.branches == 2 and model.word_embedding.storage == "int8"
    _assert_serves_keras_tags(out, model, files["test"])
    assert main(["export", str(out)]) == 0
    _assert_serves_keras_tags(out, model, files["test"])


@pytest.mark.parametrize("extra, message", [
    (["training.freeze=[decoder]"], "training.freeze: the model has no layer 'decoder'"),
    (["training.init_from=no/such/dir"], "training.init_from"),
])
def test_bad_warm_start_settings_are_refused(tmp_path, ner_files, extra, message, capsys):
    assert run_training("ner", tmp_path, "m", tiny_tagger_overrides(ner_files, epochs=1) + extra) == 2
    assert message in capsys.readouterr().err
