"""Contextual tagger features from pretrained language models (`features.lm`)."""

import numpy as np
import pytest

from nlpseq.errors import ConfigError
from tests.conftest import (
    make_ner_sentences,
    run_training,
    tiny_tagger_overrides,
    write_conll_file,
    write_splits,
    write_text_file,
)


def test_reverse_valid_reverses_each_prefix_and_is_its_own_inverse():
    from nlpseq.layers.lm_context import reverse_valid

    values = np.array([[1, 2, 3, 0], [4, 5, 0, 0], [6, 7, 8, 9]])
    lengths = np.array([3, 2, 4])
    out = np.asarray(reverse_valid(values, lengths))
    assert out.tolist() == [[3, 2, 1, 0], [5, 4, 0, 0], [9, 8, 7, 6]]
    assert np.asarray(reverse_valid(out, lengths)).tolist() == values.tolist()
    states = np.arange(24, dtype="float32").reshape(2, 4, 3)
    back = np.asarray(reverse_valid(states, np.array([2, 4])))
    assert back[0, 0].tolist() == states[0, 1].tolist() and back[0, 2].tolist() == states[0, 2].tolist()


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_lm_context_embedding_equals_the_language_model_run_alone(direction):
    """Each word gets the LM state after its last piece (forward) or first piece (backward),
    computed as if the sentence were read alone after an end-of-sentence token."""
    from nlpseq.layers import LMContextEmbedding
    from nlpseq.models.language_model import RNNLanguageModel

    lm = RNNLanguageModel(12, embedding_dim=4, units=5, num_layers=2, tie_weights=False)
    lm(np.ones((1, 1), "int32"))
    pieces = np.array([[5, 6, 7, 8, 9, 0], [9, 4, 0, 0, 0, 0]])
    piece_words = np.array([[1, 1, 2, 2, 2, 0], [1, 2, 0, 0, 0, 0]])
    layer = LMContextEmbedding(12, 4, [5, 5], eos_id=3, direction=direction)
    words = np.ones((2, 3))
    layer([pieces, piece_words, words])
    layer.copy_from(lm)
    out = np.asarray(layer([pieces, piece_words, words]))
    assert out.shape == (2, 3, 5)
    for b in range(2):
        seq = [int(p) for p in pieces[b] if p]
        read = seq[::-1] if direction == "backward" else seq
        states = np.asarray(lm.stack(lm.embedding(np.array([[3] + read])))[0])[0, 1:]
        if direction == "backward":
            states = states[::-1]
        for t in range(3):
            own = [p for p in range(len(seq)) if piece_words[b, p] == t + 1]
            expected = states[own[-1] if direction == "forward" else own[0]] if own else np.zeros(5)
            np.testing.assert_allclose(out[b, t], expected, atol=1e-5)


def test_lm_dim_projects_the_states_and_cached_states_give_the_same_tags():
    """features.lm.dim: a linear map of the LM states before the encoder, shrinking its input
    weights; the training path (cached `lm_states`) and the serving path (pieces) agree."""
    import keras

    from nlpseq.models import SequenceTagger

    specs = [{"direction": d, "vocab_size": 12, "embedding_dim": 4, "units": [6], "cell": "lstm", "eos_id": 3}
             for d in ("forward", "backward")]
    inputs = {"words": np.array([[2, 3, 4], [5, 6, 0]]),
              "lm_pieces": np.array([[5, 6, 7, 8, 9, 0], [9, 4, 0, 0, 0, 0]]),
              "lm_piece_words": np.array([[1, 1, 2, 3, 3, 0], [1, 2, 0, 0, 0, 0]])}
    sizes = {}
    for lm_dim in (None, 2):
        model = SequenceTagger(word_vocab_size=10, num_tags=3, word_dim=4, units=3, lm_specs=specs, lm_dim=lm_dim)
        scores = np.asarray(model(inputs))
        sizes[lm_dim] = model.encoder.count_params()
        cached = {"words": inputs["words"], "lm_states": np.asarray(model.lm_states(inputs))}
        assert cached["lm_states"].shape == (2, 3, 12)
        np.testing.assert_allclose(np.asarray(model(cached)), scores, atol=1e-5)
        clone = SequenceTagger.from_config(model.get_config())
        assert clone.lm_dim == lm_dim and (clone.lm_projection is None) == (lm_dim is None)
    assert model.lm_projection.kernel.shape == (12, 2)
    # Both directions' 4 LSTM gates of 3 units each read 10 fewer inputs.
    assert sizes[None] - sizes[2] == 2 * 4 * 3 * (12 - 2)
    assert isinstance(model.lm_projection, keras.layers.Dense)


def test_encode_stream_reverse_reads_the_text_backwards():
    from nlpseq.tokenizers.text_encoder import TextEncoder
    from nlpseq.training.lm import encode_stream

    encoder = TextEncoder.build(["a b c", "d e"], kind="word")
    forward = encode_stream(encoder, ["a b c", "d e"])
    backward = encode_stream(encoder, ["a b c", "d e"], reverse=True)
    assert backward.tolist() == forward.tolist()[::-1]
    assert backward[0] == encoder.eos_id and backward[-1] == encoder.eos_id
    assert [encoder.id_to_token(i) for i in backward[1:4]] == ["e", "d", "<eos>"]


def _char_lm_overrides(files, reverse):
    return [
        f"data.train={files['train']}", f"data.dev={files['dev']}", "data.test=null", f"data.reverse={reverse}",
        "tokenizer.type=sentencepiece", "tokenizer.model_type=char", "tokenizer.vocab_size=200",
        "model.embedding_dim=6", "model.units=10", "model.num_layers=1", "model.tie_weights=false",
        "training.batch_size=4", "training.bptt=20", "training.epochs=1", "training.jit_compile=false",
        "training.eval_batch_size=2", "training.learning_rate=0.01",
    ]


@pytest.fixture(scope="module")
def char_lms(tmp_path_factory):
    """Tiny forward and backward character LMs, trained on the NER corpus' sentences."""
    root = tmp_path_factory.mktemp("charlm")
    texts = {split: [" ".join(words) for words, _ in make_ner_sentences(n, seed=seed)]
             for seed, (split, n) in enumerate((("train", 120), ("dev", 10)), start=1)}
    files = {split: write_text_file(root / f"{split}.txt", lines) for split, lines in texts.items()}
    for name, reverse in (("forward", "false"), ("backward", "true")):
        assert run_training("lm", root, name, _char_lm_overrides(files, reverse)) == 0
    return root


# Two LM trainings and exports, then a tagger's (about 90 s): opt in with -m slow. The layer
# tests above check the arithmetic by default.
@pytest.mark.slow
def test_tagger_with_lm_features_trains_exports_and_keeps_the_lm_frozen(char_lms, tmp_path):
    import keras

    from nlpseq import Tagger
    from nlpseq.data.features import TaggingFeatures
    from nlpseq.readers import read_conll
    from nlpseq.training.evaluation import predict_tags
    from nlpseq.training.lm_features import cache_lm_states

    files = write_splits(tmp_path, write_conll_file, make_ner_sentences, (60, 10, 10), ".txt")
    overrides = tiny_tagger_overrides(files, epochs=2) + [
        f"features.lm.forward={char_lms / 'forward'}", f"features.lm.backward={char_lms / 'backward'}",
        "features.lm.dim=8"]
    assert run_training("ner", tmp_path, "model", overrides) == 0

    model = keras.models.load_model(tmp_path / "model" / "model.keras")
    assert [layer.direction for layer in model.lm_embeddings] == ["forward", "backward"]
    assert not any(w.trainable for layer in model.lm_embeddings for w in layer.weights)
    assert model.lm_projection.kernel.shape == (20, 8) and model.lm_projection.trainable
    for layer in model.lm_embeddings:  # training left the language models' weights as they were
        lm = keras.models.load_model(char_lms / layer.direction / "model.keras", compile=False)
        for mine, theirs in zip(layer.embedding.weights + layer.stack.weights, lm.embedding.weights + lm.stack.weights):
            np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))

    # The SavedModel encodes the LM pieces in-graph; it must tag as the Keras model does.
    features = TaggingFeatures.load(tmp_path / "model" / "assets")
    assert features.lm_pieces is not None
    sentences = [list(s.words) for s in read_conll(files["test"])]
    tagger = Tagger.load(tmp_path / "model")
    via_keras = predict_tags(model, features, sentences)
    assert [[t for _, t in row] for row in tagger.tag_batch(sentences)] == via_keras

    # Training reads the states cached once (the models are frozen): the same inputs to the encoder.
    encoded = [features.encode(words) for words in sentences]
    uncached = np.asarray(model.lm_states({k: v[None] for k, v in encoded[0].items()}))[0]
    cache_lm_states(model, encoded, batch_size=3)
    assert "lm_pieces" not in encoded[0] and encoded[0]["lm_states"].shape == (len(sentences[0]), 20)
    np.testing.assert_allclose(encoded[0]["lm_states"], uncached, atol=1e-5)
    assert predict_tags(model, features, sentences, encoded=encoded) == via_keras


@pytest.mark.slow
def test_a_right_to_left_lm_refuses_to_generate_or_score(char_lms):
    from nlpseq import LanguageModel
    from nlpseq.errors import InputError

    lm = LanguageModel.load(char_lms / "backward")
    with pytest.raises(InputError, match="right-to-left"):
        lm.generate("John")
    with pytest.raises(InputError, match="right-to-left"):
        lm.score("John left .")
    assert isinstance(LanguageModel.load(char_lms / "forward").score("John left .")["log_prob"], float)


@pytest.mark.slow
def test_lm_features_reject_a_model_of_the_wrong_direction(char_lms):
    from nlpseq.training.lm_features import FeatureLanguageModels

    with pytest.raises(ConfigError, match="reads text left to right"):
        FeatureLanguageModels.load({"backward": str(char_lms / "forward")})


def test_lm_features_reject_unknown_keys_and_are_off_without_models():
    from nlpseq.training.lm_features import FeatureLanguageModels

    with pytest.raises(ConfigError, match="unknown keys"):
        FeatureLanguageModels.load({"sideways": "some/dir"})
    for dim in (0, -4, 2.5, "64", True):
        with pytest.raises(ConfigError, match="features.lm.dim must be a positive whole number"):
            FeatureLanguageModels.load({"dim": dim})
    assert FeatureLanguageModels.load({"forward": None, "backward": None}) is None
    assert FeatureLanguageModels.load(None) is None


def test_lm_features_reject_a_word_level_model(tiny_lm_model):
    from nlpseq.training.lm_features import FeatureLanguageModels

    with pytest.raises(ConfigError, match="word-level"):
        FeatureLanguageModels.load({"forward": str(tiny_lm_model["out"])})
