"""Tests for nlpseq.metrics.translation (sacreBLEU corpus BLEU and chrF)."""

import pytest

from nlpseq.errors import InputError
from nlpseq.metrics import translation_scores

REFERENCES = [
    "Ein Mann in einem blauen Hemd steht auf einer Leiter.",
    "Zwei junge Hunde spielen im Schnee.",
    "Eine Frau verkauft Obst auf dem Markt.",
]


def test_identical_translations_score_100():
    scores = translation_scores(REFERENCES, REFERENCES)
    assert scores["bleu"] == pytest.approx(100.0)
    assert scores["chrf"] == pytest.approx(100.0)
    assert scores["sentences"] == 3
    assert isinstance(scores["bleu"], float) and isinstance(scores["chrf"], float)


def test_one_wrong_word_scores_below_identical_and_above_unrelated():
    one_wrong = [REFERENCES[0].replace("blauen", "roten")] + REFERENCES[1:]
    unrelated = ["Das Wetter ist heute schön.", "Ich lese gern Bücher.", "Der Zug kommt später."]
    close, far = translation_scores(one_wrong, REFERENCES), translation_scores(unrelated, REFERENCES)
    assert far["bleu"] < close["bleu"] < 100.0
    assert far["chrf"] < close["chrf"] < 100.0
    assert close["bleu"] > 50.0


def test_bleu_tokenizes_punctuation_itself():
    # With 13a tokenization a detached final period is the same tokens as an attached one.
    detached = [r[:-1] + " ." for r in REFERENCES]
    assert translation_scores(detached, REFERENCES)["bleu"] == pytest.approx(100.0)


def test_bleu_is_case_sensitive():
    assert translation_scores([r.lower() for r in REFERENCES], REFERENCES)["bleu"] < 100.0


def test_signatures_describe_the_settings():
    scores = translation_scores(REFERENCES[:1], REFERENCES[:1])
    assert "tok:13a" in scores["bleu_signature"]
    assert "nrefs:1" in scores["bleu_signature"] and "nrefs:1" in scores["chrf_signature"]
    assert "nc:6" in scores["chrf_signature"]  # chrF (character 6-grams), not chrF++
    assert "version:2." in scores["bleu_signature"]


def test_accepts_tuples_and_generators():
    scores = translation_scores(tuple(REFERENCES), (r for r in REFERENCES))
    assert scores["bleu"] == pytest.approx(100.0)


def test_length_mismatch_is_an_input_error():
    with pytest.raises(InputError, match="2 hypotheses but 3 references"):
        translation_scores(REFERENCES[:2], REFERENCES)


def test_empty_lists_are_an_input_error():
    with pytest.raises(InputError, match="no sentences"):
        translation_scores([], [])


def test_non_string_is_an_input_error():
    with pytest.raises(InputError, match=r"hypotheses\[1\] is a list"):
        translation_scores(["a b", ["a", "b"]], ["a b", "a b"])
