"""The POS path: CoNLL-U data, softmax head, char-BiLSTM (boundary markers) and SentencePiece features, token accuracy."""

import json

import pytest

from nlpseq import InputError, Tagger
from nlpseq.cli import main


def test_pos_model_tags_and_evaluates(tiny_pos_model, capsys):
    tagger = Tagger.load(tiny_pos_model["out"])
    pairs = tagger.tag("the dog saw Oslo .")
    assert [w for w, _ in pairs] == ["the", "dog", "saw", "Oslo", "."]
    assert {t for _, t in pairs} <= {"DET", "NOUN", "VERB", "PROPN", "PUNCT"}
    with pytest.raises(InputError, match="NER"):
        tagger.entities("the dog")

    assert main(["evaluate", str(tiny_pos_model["out"]), str(tiny_pos_model["files"]["test"])]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["task"] == "pos" and 0.0 <= result["accuracy"] <= 1.0 and result["sentences"] == 10
    metrics = json.loads((tiny_pos_model["out"] / "metrics.json").read_text())
    assert result["accuracy"] == pytest.approx(metrics["test_accuracy"])


def test_subword_assets_are_saved_and_used(tiny_pos_model):
    import keras

    from nlpseq.data.features import TaggingFeatures
    from nlpseq.readers import read_conllu
    from nlpseq.training.evaluation import predict_tags

    out = tiny_pos_model["out"]
    assert (out / "assets" / "subwords.spm.model").is_file()
    # The fixture's config turns the char boundary markers on; both paths below must honour them.
    assert TaggingFeatures.load(out / "assets").char_boundaries
    model = keras.models.load_model(out / "model.keras")
    assert model.subword_embedding is not None
    sentences = [list(s.words) for s in read_conllu(tiny_pos_model["files"]["test"])]
    via_keras = predict_tags(model, TaggingFeatures.load(out / "assets"), sentences)
    via_savedmodel = [[t for _, t in row] for row in Tagger.load(out).tag_batch(sentences)]
    assert via_keras == via_savedmodel
