"""The models in saved_models/ load from a fresh process's point of view and give sensible output.

These guard what the README's first command and the model cards promise: a shipped
directory must keep working after library changes (e.g. a re-export), not only the
tiny models the other tests train.
"""

from pathlib import Path

import pytest

SHIPPED = Path(__file__).resolve().parents[2] / "saved_models"


def shipped(name):
    path = SHIPPED / name
    if not (path / "saved_model").is_dir():
        pytest.skip(f"{path} not present")
    return path


def test_ner_model_finds_the_readme_entities():
    from nlpseq import Tagger

    tagger = Tagger.load(shipped("ner-conll2003"))
    spans = tagger.entities("EU rejects German call to boycott British lamb .")
    assert [(s["text"], s["type"]) for s in spans] == [("EU", "ORG"), ("German", "MISC"), ("British", "MISC")]


def test_pos_model_tags_a_simple_sentence():
    from nlpseq import Tagger

    tags = [t for _, t in Tagger.load(shipped("pos-ud-ewt")).tag("I saw the cat .")]
    assert tags == ["PRON", "VERB", "DET", "NOUN", "PUNCT"]


def test_translator_outputs_german():
    from nlpseq import Translator

    translator = Translator.load(shipped("mt-multi30k-en-de"))
    out = translator.translate_batch(["Two dogs play in the snow.", "A man is riding a bicycle."])
    assert "Hunde" in out[0] and "Schnee" in out[0]
    assert "Mann" in out[1]


def test_language_model_prefers_real_text():
    from nlpseq import LanguageModel

    lm = LanguageModel.load(shipped("lm-ptb"))
    real = lm.score("the company said it expects higher earnings")["perplexity"]
    shuffled = lm.score("earnings the higher it company expects said")["perplexity"]
    assert real < shuffled / 5
