"""`training.steps_per_execution` for taggers: several batches per graph call, the same training."""

import pytest

from nlpseq.data.pipelines import count_bucketed_batches
from nlpseq.errors import ConfigError
from nlpseq.readers import read_conll
from nlpseq.training.tagging import steps_per_execution
from tests.conftest import run_state, run_training, tiny_tagger_overrides


def test_the_count_divides_the_epoch():
    assert steps_per_execution(448, 16) == 16  # CoNLL-2003's 448 batches of 32
    assert steps_per_execution(447, 16) == 3
    assert steps_per_execution(7, 16) == 7
    assert steps_per_execution(13, 4) == 1
    assert steps_per_execution(12, 1) == 1
    assert steps_per_execution(0, 16) == 1  # an empty epoch still compiles


@pytest.mark.parametrize("bad", [0, -4, 2.5, "8", True])
def test_bad_values_are_refused(bad):
    with pytest.raises(ConfigError, match="steps_per_execution"):
        steps_per_execution(10, bad)


def test_several_batches_per_call_train_exactly_as_one(tmp_path, ner_files):
    """Same batches, same order, same epoch boundaries: the loss and dev history match one batch per call.

    An epoch whose batch count the setting does not divide would read the next epoch's batches if the
    count were not reduced to a divisor; three epochs make such a drift visible in the history.
    """
    assert count_bucketed_batches([len(s.words) for s in read_conll(ner_files["train"])], 8) >= 10
    # 10 batches an epoch and at most 4 per call: 2 per call (4 would run 12 batches an epoch).
    most = 4
    histories = {}
    for per_call in (1, most):
        overrides = tiny_tagger_overrides(ner_files, epochs=3) + [
            f"training.steps_per_execution={per_call}", "training.patience=10", "training.max_steps_per_epoch=10"]
        assert run_training("ner", tmp_path, f"spe{per_call}", overrides) == 0
        histories[per_call] = run_state(tmp_path, f"spe{per_call}")["history"]
    assert len(histories[most]) == 3
    for one, many in zip(histories[1], histories[most]):
        assert many["loss"] == pytest.approx(one["loss"], rel=1e-5)
        assert many["dev_f1"] == one["dev_f1"]
