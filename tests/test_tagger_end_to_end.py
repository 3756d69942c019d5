"""One end-to-end run: train a tiny NER tagger through the CLI, export, reload, tag, evaluate."""

import json

import numpy as np
import pytest

from nlpseq.cli import main
from tests.conftest import tiny_tagger_overrides


@pytest.fixture
def trained(tiny_ner_model):
    return tiny_ner_model


def test_model_directory_is_complete(trained):
    out = trained["out"]
    for name in ("model.keras", "saved_model", "assets", "config.yaml", "metrics.json", "README.md"):
        assert (out / name).exists(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test_f1"] <= 1.0 and metrics["epochs_run"] == 3
    card = (out / "README.md").read_text()
    assert "training command" in card and "test_f1" in card
    assert not (out / "checkpoints").exists()  # checkpoints stay in the work dir
    assert (trained["work"] / "checkpoints" / "state.json").is_file()
    assert any((trained["work"] / "logs").rglob("events.out.tfevents*"))  # TensorBoard


def test_python_api_matches_keras_model(trained):
    import keras

    from nlpseq import Tagger
    from nlpseq.data.features import TaggingFeatures
    from nlpseq.readers import read_conll
    from nlpseq.training.evaluation import predict_tags

    tagger = Tagger.load(trained["out"])
    sentences = [list(s.words) for s in read_conll(trained["files"]["test"])]
    via_savedmodel = [[t for _, t in row] for row in tagger.tag_batch(sentences)]
    model = keras.models.load_model(trained["out"] / "model.keras")
    features = TaggingFeatures.load(trained["out"] / "assets")
    via_keras = predict_tags(model, features, sentences)
    assert via_savedmodel == via_keras

    pairs = tagger.tag("Mary Smith visited Paris .")
    assert [w for w, _ in pairs] == ["Mary", "Smith", "visited", "Paris", "."]
    assert all(t in features.tags for _, t in pairs)
    assert tagger.tag("") == [] and tagger.tag("   \t\n") == []


def test_entities_have_character_offsets(trained):
    from nlpseq import Tagger

    tagger = Tagger.load(trained["out"])
    text = "John  Jones joined  the Nokia office."
    for span in tagger.entities(text):
        assert text[span["start"]:span["end"]] == span["text"]
        assert span["type"] in ("PER", "LOC", "ORG")


def test_evaluate_prints_json_last_line(trained, capsys):
    assert main(["evaluate", str(trained["out"]), str(trained["files"]["test"])]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["task"] == "ner" and set(result) >= {"f1", "precision", "recall"}
    metrics = json.loads((trained["out"] / "metrics.json").read_text())
    assert result["f1"] == pytest.approx(metrics["test_f1"])  # SavedModel == training-time scoring
    assert any("sentences: 20" in line for line in lines)


def test_cli_tag_conll_file(trained, tmp_path, capsys):
    source = tmp_path / "in.conll"
    source.write_text("Mary\nvisited\nOslo\n.\n\nKarl\nleft\n", encoding="utf-8")
    target = tmp_path / "out.tsv"
    assert main(["tag", str(trained["out"]), "--input", str(source), "--format", "conll",
                 "--output", str(target)]) == 0
    blocks = target.read_text(encoding="utf-8").strip().split("\n\n")
    assert [len(b.splitlines()) for b in blocks] == [4, 2]
    assert all(len(line.split("\t")) == 2 for b in blocks for line in b.splitlines())
    assert main(["tag", str(trained["out"]), "Mary visited Oslo ."]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("Mary\t")


def test_resume_continues_where_it_stopped(tmp_path, ner_files):
    """A run stopped after epoch 1 and resumed gives the same history as an uninterrupted run."""
    base = ["train", "ner", "--verbose", "0", "--set", "features.dropout=0", "--set", "encoder.dropout=0",
            "--set", "head.dropout=0", "--set", "features.word.unk_replace=0"]
    for item in tiny_tagger_overrides(ner_files, epochs=2):
        base += ["--set", item]
    assert main(base + ["--output", str(tmp_path / "a"), "--work-dir", str(tmp_path / "wa")]) == 0
    stopped = base + ["--output", str(tmp_path / "b"), "--work-dir", str(tmp_path / "wb")]
    assert main(stopped + ["--set", "training.epochs=1"]) == 0
    assert main(stopped + ["--resume"]) == 0
    history_a = json.loads((tmp_path / "wa" / "checkpoints" / "state.json").read_text())["history"]
    history_b = json.loads((tmp_path / "wb" / "checkpoints" / "state.json").read_text())["history"]
    assert [h["epoch"] for h in history_b] == [1, 2]
    np.testing.assert_allclose([h["loss"] for h in history_b], [h["loss"] for h in history_a], rtol=1e-3)
    # The card records the original command and the resume.
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2
    assert metrics["command"].startswith("nlpseq train ner") and "--resume" not in metrics["command"]
    assert len(metrics["resumed_with"]) == 1 and "--resume" in metrics["resumed_with"][0]
    assert "resumed with" in (tmp_path / "b" / "README.md").read_text()


def test_resume_without_checkpoint_is_a_clear_error(tmp_path, ner_files, capsys):
    args = ["train", "ner", "--resume", "--work-dir", str(tmp_path / "none"), "--output", str(tmp_path / "m")]
    for item in tiny_tagger_overrides(ner_files):
        args += ["--set", item]
    assert main(args) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_exports_hold_no_optimizer_state(trained):
    import keras

    model = keras.models.load_model(trained["out"] / "model.keras")
    assert getattr(model, "optimizer", None) is None
    saved = (trained["out"] / "saved_model" / "variables" / "variables.index").read_bytes()
    assert b"optimizer" not in saved


def test_evaluate_scores_the_best_checkpoint_of_a_run(trained, capsys):
    assert main(["evaluate", str(trained["work"]), str(trained["files"]["test"])]) == 0
    from_checkpoint = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    metrics = json.loads((trained["out"] / "metrics.json").read_text())
    assert from_checkpoint["f1"] == pytest.approx(metrics["test_f1"])  # the exported model is the best checkpoint


def test_export_rebuilds_the_same_serving_model(trained, tmp_path):
    # `nlpseq export` reloads model.keras (built from its saved config, not from data) and
    # re-traces every layer; the rebuilt SavedModel must tag exactly as the trained one.
    import shutil

    from nlpseq import Tagger
    from nlpseq.readers import read_conll

    copy = tmp_path / "copy"
    shutil.copytree(trained["out"], copy)
    shutil.rmtree(copy / "saved_model")
    assert main(["export", str(copy)]) == 0
    sentences = [list(s.words) for s in read_conll(trained["files"]["test"])]
    assert Tagger.load(copy).tag_batch(sentences) == Tagger.load(trained["out"]).tag_batch(sentences)
