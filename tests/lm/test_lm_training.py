"""Language-model training: resume, learning-rate decay, subword and other cells, data errors."""

import json

import pytest

from nlpseq import LanguageModel
from tests.conftest import run_state, run_training, make_lm_lines, tiny_lm_overrides, write_splits, write_text_file


@pytest.fixture
def lm_files(tmp_path):
    return write_splits(tmp_path, write_text_file, make_lm_lines, (120, 15, 15), ".txt")


def train(tmp_path, name, overrides, *extra):
    return run_training("lm", tmp_path, name, overrides, *extra)


def state(tmp_path, name):
    return run_state(tmp_path, name)


# With weight drop it is opt-in (-m slow): three more trainings; tests/lm/test_lm_blocks.py covers the layer.
@pytest.mark.parametrize("weight_drop", [0.0, pytest.param(0.3, marks=pytest.mark.slow)])
def test_resume_reproduces_the_uninterrupted_run(tmp_path, lm_files, weight_drop):
    """Stopped after epoch 2 and resumed to 3: the same losses and dev perplexities as 3 straight
    (with weight drop too: its masks are reseeded per epoch like the dropout masks)."""
    overrides = tiny_lm_overrides(lm_files, epochs=3) + ["training.lr_decay=0.5", f"model.weight_drop={weight_drop}"]
    assert train(tmp_path, "a", overrides) == 0
    assert train(tmp_path, "b", [o.replace("epochs=3", "epochs=2") for o in overrides]) == 0
    assert train(tmp_path, "b", overrides, "--resume") == 0
    a, b = state(tmp_path, "a"), state(tmp_path, "b")
    assert [h["epoch"] for h in b["history"]] == [1, 2, 3]
    for ha, hb in zip(a["history"], b["history"]):
        assert hb["loss"] == pytest.approx(ha["loss"], rel=1e-4)
        assert hb["dev_perplexity"] == pytest.approx(ha["dev_perplexity"], rel=1e-4)
    assert b["learning_rate"] == pytest.approx(a["learning_rate"])
    assert b["resumed_with"] and "--resume" in b["resumed_with"][0]
    card = (tmp_path / "b" / "README.md").read_text()
    assert ("weight drop 0.3 (hidden-to-hidden)" in card) == bool(weight_drop)


def test_learning_rate_decays_when_dev_perplexity_stalls(tmp_path, lm_files):
    # A rate this high makes the dev perplexity worse at some epoch; each such epoch halves the rate.
    overrides = tiny_lm_overrides(lm_files, epochs=4) + ["training.learning_rate=0.5", "training.patience=10"]
    assert train(tmp_path, "hot", overrides) == 0
    s = state(tmp_path, "hot")
    stalls = s["epoch"] - sum(1 for i, h in enumerate(s["history"])
                              if h["dev_perplexity"] < min([x["dev_perplexity"] for x in s["history"][:i]] or [1e99]))
    assert stalls >= 1
    assert s["learning_rate"] == pytest.approx(0.5 * 0.5 ** stalls)


def test_scheduled_decay_halves_the_rate_every_epoch_from_decay_start(tmp_path, lm_files):
    overrides = tiny_lm_overrides(lm_files, epochs=3) + ["training.decay_start=2", "training.patience=10"]
    assert train(tmp_path, "sched", overrides) == 0
    s = state(tmp_path, "sched")
    # Epochs 2 and 3 decay on schedule; epoch 1 only if it failed to improve (it cannot: it is the first).
    assert s["learning_rate"] == pytest.approx(0.02 * 0.5 ** 2)


@pytest.mark.parametrize("extra", [
    ["tokenizer.type=sentencepiece", "tokenizer.vocab_size=40", "model.cell=gru"],
    ["model.cell=simple", "model.tie_weights=false", "model.num_layers=1"],
])
def test_subword_and_other_cells_train_and_report_word_perplexity(tmp_path, lm_files, extra):
    assert train(tmp_path, "m", tiny_lm_overrides(lm_files, epochs=2) + extra) == 0
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    words = sum(len(line.split()) + 1 for line in lm_files["test"].read_text().splitlines())
    assert metrics["test_tokens"] == words  # per-word perplexity whatever the tokens
    if "tokenizer.type=sentencepiece" in extra:
        assert metrics["test_subword_tokens"] > words
        # The same log-likelihood over more tokens: a lower per-token perplexity.
        assert metrics["test_token_perplexity"] < metrics["test_perplexity"]
    # The SavedModel runs the tokenizer in-graph (SentencePiece via tensorflow_text).
    lm = LanguageModel.load(tmp_path / "m")
    assert lm.generate("the cat", max_new_tokens=0) == "the cat"
    assert isinstance(lm.generate("the cat", max_new_tokens=5, strategy="beam", beam_size=3), str)
    assert lm.score("the cat sees the ball")["words"] == 6


def test_data_and_config_errors_are_one_line(tmp_path, lm_files, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    assert train(tmp_path, "x", tiny_lm_overrides(lm_files) + [f"data.train={empty}"]) == 2
    assert "empty.txt: no text found" in capsys.readouterr().err
    assert train(tmp_path, "x", tiny_lm_overrides(lm_files) + ["training.batch_size=5000"]) == 2
    assert "too few for 5000 rows" in capsys.readouterr().err
    assert train(tmp_path, "x", tiny_lm_overrides(lm_files) + ["model.cell=rnn"]) == 2
    assert "unknown RNN cell" in capsys.readouterr().err
    assert train(tmp_path, "x", tiny_lm_overrides(lm_files), "--resume") == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_read_corpus_reads_a_list_of_files_in_order(tmp_path):
    import gzip

    from nlpseq.training.lm import read_corpus

    (tmp_path / "a.txt").write_text("one two\n\n three \n", encoding="utf-8")
    with gzip.open(tmp_path / "b.txt.gz", "wt", encoding="utf-8") as f:
        f.write("four\n")
    assert read_corpus([tmp_path / "a.txt", tmp_path / "b.txt.gz"]) == ["one two", "three", "four"]
    assert read_corpus(None) == []
