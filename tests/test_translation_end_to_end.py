"""A tiny translation model trained through the CLI: model directory, SavedModel, API, evaluate, translate."""

import gzip
import json

import pytest

from nlpseq import Translator
from nlpseq.cli import main
from nlpseq.errors import InputError
from tests.conftest import make_parallel_pairs


@pytest.fixture(scope="module")
def translator(tiny_translation_model):
    return Translator.load(tiny_translation_model["out"])


def test_model_directory_is_complete_and_learned(tiny_translation_model):
    out = tiny_translation_model["out"]
    for name in ("model.keras", "saved_model", "assets", "config.yaml", "metrics.json", "README.md"):
        assert (out / name).exists(), name
    metrics = json.loads((out / "metrics.json").read_text())
    # Word-for-word with one reordering: a model that learned it scores far above chance.
    assert metrics["test_bleu"] > 30
    assert "13a" in metrics["bleu_signature"]
    assert "test_bleu" in (out / "README.md").read_text()


def test_translate_api_beam_greedy_nbest_and_attention(translator):
    source, reference = make_parallel_pairs(1, seed=99)[0]
    beam = translator.translate(source, beam_size=3)
    assert isinstance(beam, str) and beam
    greedy = translator.translate(source, beam_size=1)
    assert translator.translate_batch([source, source], beam_size=1) == [greedy, greedy]
    nbest = translator.translate(source, beam_size=3, n_best=3)
    assert len(nbest) == 3 and nbest[0][0] == beam
    assert [s for _, s in nbest] == sorted((s for _, s in nbest), reverse=True)
    att = translator.attention(source, reference)
    assert len(att["weights"]) == len(att["target_tokens"]) == len(reference.split()) + 1
    assert all(len(row) == len(att["source_tokens"]) and abs(sum(row) - 1) < 1e-4 for row in att["weights"])


def test_bad_input_gives_a_result_or_one_clear_error(translator):
    assert isinstance(translator.translate(""), str)
    long = translator.translate(" ".join(["the man rides a red bike ."] * 72))  # 504 words
    assert isinstance(long, str)
    assert isinstance(translator.translate("Ωμέγα 北京 ☃ ünïcödé"), str)
    with pytest.raises(InputError, match="beam_size must be an int >= 1"):
        translator.translate("a man", beam_size=0)
    with pytest.raises(InputError, match="n_best"):
        translator.translate("a man", beam_size=2, n_best=3)
    with pytest.raises(InputError, match="text must be a str"):
        translator.translate(["a man"])


def test_evaluate_and_translate_cli(tiny_translation_model, tmp_path, capsys):
    out, files = tiny_translation_model["out"], tiny_translation_model["files"]
    assert main(["evaluate", str(out), str(files["test"][0]), str(files["test"][1])]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    last = json.loads(printed[-1])
    assert last["task"] == "translation" and last["sentences"] == 20
    assert last["bleu"] == pytest.approx(json.loads((out / "metrics.json").read_text())["test_bleu"], abs=1e-6)
    assert any("nrefs:1" in line and "BLEU" in line for line in printed)
    target = tmp_path / "out.de"
    assert main(["translate", str(out), "--input", str(files["test"][0]), "--output", str(target)]) == 0
    with gzip.open(files["test"][0], "rt", encoding="utf-8") as f:
        assert len(target.read_text(encoding="utf-8").splitlines()) == len(f.read().splitlines())
    assert main(["translate", str(out), "a man rides a red bike ."]) == 0
    assert capsys.readouterr().out.strip()
    assert main(["evaluate", str(out), str(files["test"][0])]) == 2
    assert "SRC_FILE and REF_FILE" in capsys.readouterr().err
