"""`training.lr_decay` for taggers: the rate is multiplied after each epoch without a dev gain."""

import pytest

from tests.conftest import run_state, run_training, tiny_tagger_overrides


def test_tagger_rate_decays_after_each_epoch_without_a_dev_gain(tmp_path, ner_files):
    # A rate this small leaves the predictions, hence the dev F1, unchanged: every epoch after
    # the first is one without a gain, so three epochs halve the rate twice.
    overrides = tiny_tagger_overrides(ner_files, epochs=3) + [
        "training.learning_rate=1e-7", "training.lr_decay=0.5", "training.patience=10"]
    assert run_training("ner", tmp_path, "decay", overrides) == 0
    state = run_state(tmp_path, "decay")
    assert [h["epoch"] for h in state["history"]] == [1, 2, 3] and state["best_epoch"] == 1
    assert state["learning_rate"] == pytest.approx(1e-7 * 0.5 ** 2)


def test_a_bad_decay_factor_is_refused_before_training(tmp_path, ner_files, capsys):
    overrides = tiny_tagger_overrides(ner_files, epochs=1) + ["training.lr_decay=1.5"]
    assert run_training("ner", tmp_path, "bad", overrides) != 0
    assert "training.lr_decay must be a factor in (0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
