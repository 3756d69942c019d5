"""The POS path: CoNLL-U training data, softmax head, char-BiLSTM features, token accuracy."""

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
