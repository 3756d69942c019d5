"""Translation training options: SentencePiece (joint, shared/tied), other attentions, resume, errors."""

import json

import pytest

from tests.conftest import run_state, run_training, tiny_translation_overrides, write_parallel_splits


@pytest.fixture
def mt_files(tmp_path):
    return write_parallel_splits(tmp_path, sizes=(80, 10, 10))


def train(tmp_path, name, overrides, *extra):
    return run_training("translation", tmp_path, name, overrides, *extra)


def test_joint_sentencepiece_shared_tied_bahdanau_gru_with_loss_stopping(tmp_path, mt_files):
    overrides = tiny_translation_overrides(mt_files, epochs=1) + [
        "tokenizer.type=sentencepiece", "tokenizer.joint=true", "tokenizer.vocab_size=40",
        "model.share_embeddings=true", "model.tie_embeddings=true", "model.attention=bahdanau", "model.cell=gru",
        "training.early_stopping=loss"]
    assert train(tmp_path, "sp", overrides) == 0
    out = tmp_path / "sp"
    assert (out / "assets" / "source.encoder.json").is_file() and (out / "assets" / "target.encoder.json").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert "dev_loss" in metrics and "test_bleu" in metrics
    from nlpseq import Translator

    assert isinstance(Translator.load(out).translate("a man rides a red bike ."), str)


def test_resume_reproduces_the_uninterrupted_run(tmp_path, mt_files):
    overrides = tiny_translation_overrides(mt_files, epochs=2) + ["training.early_stopping=loss"]
    assert train(tmp_path, "a", overrides) == 0
    assert train(tmp_path, "b", [o.replace("epochs=2", "epochs=1") for o in overrides]) == 0
    assert train(tmp_path, "b", overrides, "--resume") == 0
    history = [run_state(tmp_path, n)["history"] for n in "ab"]
    assert [h["epoch"] for h in history[1]] == [1, 2]
    for ha, hb in zip(*history):
        assert hb["loss"] == pytest.approx(ha["loss"], rel=1e-4)


def test_config_and_data_errors_are_one_line(tmp_path, mt_files, capsys):
    base = tiny_translation_overrides(mt_files, epochs=1)
    assert train(tmp_path, "x", base + ["model.share_embeddings=true"]) == 2
    assert "needs tokenizer.joint" in capsys.readouterr().err
    assert train(tmp_path, "x", base + ["data.dev_target=null"]) == 2
    assert "must be given together" in capsys.readouterr().err
    short = tmp_path / "short.de"
    short.write_text("ein mann\n")
    assert train(tmp_path, "x", base + [f"data.train_target={short}"]) == 2
    assert "no line here" in capsys.readouterr().err
