"""Averaging the weights of the last epochs (`training.average_last`)."""

import json

import keras
import numpy as np
import pytest

from nlpseq.training.checkpoints import CheckpointManager
from tests.conftest import (make_lm_lines, make_ner_sentences, run_training, tiny_lm_overrides, tiny_tagger_overrides,
                            tiny_translation_overrides, write_conll_file, write_parallel_splits, write_splits,
                            write_text_file)


def _tiny_model(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(1)])


def test_kept_epochs_are_the_last_ones_and_average_to_their_mean(tmp_path):
    manager = CheckpointManager(tmp_path)
    model = _tiny_model(0)
    saved = {}
    for epoch in range(1, 6):
        for variable in model.trainable_variables:
            variable.assign(np.random.default_rng(epoch).normal(size=variable.shape).astype("float32"))
        saved[epoch] = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
        manager.save_epoch(model, epoch, keep=3)
    assert manager.epochs() == [3, 4, 5]
    assert not list(tmp_path.glob(".tmp-*"))  # written under a temporary name, then renamed

    manager.load_average(model, [3, 4, 5])
    for i, variable in enumerate(model.trainable_variables):
        expected = np.mean([saved[e][i] for e in (3, 4, 5)], axis=0)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), expected, rtol=1e-6)


def test_weights_of_another_architecture_are_refused(tmp_path):
    manager = CheckpointManager(tmp_path)
    manager.save_epoch(_tiny_model(0), 1, keep=2)
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="do not match"):
        manager.load_average(other, [1])


def test_training_ships_the_better_of_average_and_best_epoch(tmp_path):
    files = write_splits(tmp_path, write_conll_file, make_ner_sentences, (80, 20, 20), ".txt")
    overrides = tiny_tagger_overrides(files, epochs=4) + ["training.average_last=3", "training.patience=10"]
    assert run_training("ner", tmp_path, "m", overrides) == 0
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["averaged_epochs"] == [2, 3, 4]
    assert metrics["weights"] in ("averaged", "best_epoch")
    better = metrics["dev_f1_averaged"] > metrics["dev_f1"]
    assert metrics["weights"] == ("averaged" if better else "best_epoch")

    # The shipped .keras weights are the ones the decision names.
    shipped = keras.models.load_model(tmp_path / "m" / "model.keras")
    checkpoints = CheckpointManager(tmp_path / "w-m" / "checkpoints")
    reference = keras.models.load_model(tmp_path / "m" / "model.keras")
    if better:
        checkpoints.load_average(reference, [2, 3, 4])
    else:
        checkpoints.restore_best(reference)
    for got, want in zip(shipped.trainable_variables, reference.trainable_variables):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want), atol=1e-6)
    # ... and differ from the weights the decision rejected.
    if better:
        checkpoints.restore_best(reference)
    else:
        checkpoints.load_average(reference, [2, 3, 4])
    assert any(not np.allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
               for a, b in zip(shipped.trainable_variables, reference.trainable_variables))
    if better:
        assert "mean of epochs 2–4" in (tmp_path / "m" / "README.md").read_text()


def test_without_a_dev_set_the_average_is_shipped(tmp_path):
    files = write_splits(tmp_path, write_conll_file, make_ner_sentences, (80, 20, 20), ".txt")
    overrides = tiny_tagger_overrides(files, epochs=3) + ["training.average_last=2", "data.dev=null"]
    assert run_training("ner", tmp_path, "m", overrides) == 0
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["averaged_epochs"] == [2, 3] and metrics["weights"] == "averaged"

    shipped = keras.models.load_model(tmp_path / "m" / "model.keras")
    reference = keras.models.load_model(tmp_path / "m" / "model.keras")
    CheckpointManager(tmp_path / "w-m" / "checkpoints").load_average(reference, [2, 3])
    for got, want in zip(shipped.trainable_variables, reference.trainable_variables):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want), atol=1e-6)


@pytest.mark.slow  # two more trainings; the tagger tests above cover the shared logic by default
@pytest.mark.parametrize("task", ["lm", "translation"])
def test_language_and_translation_models_average_too(tmp_path, task):
    if task == "lm":
        files = write_splits(tmp_path, write_text_file, make_lm_lines, (150, 20, 20), ".txt")
        overrides, metric, higher = tiny_lm_overrides(files, epochs=2), "perplexity", False
    else:
        files = write_parallel_splits(tmp_path)
        overrides, metric, higher = tiny_translation_overrides(files, epochs=2), "bleu", True
    assert run_training(task, tmp_path, "m", overrides + ["training.average_last=2"]) == 0
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["averaged_epochs"] == [1, 2]
    averaged, best = metrics[f"dev_{metric}_averaged"], metrics[f"dev_{metric}"]
    assert metrics["weights"] == ("averaged" if (averaged > best if higher else averaged < best) else "best_epoch")


@pytest.mark.parametrize("value", ["-1", "abc", "2.5", "true"])
def test_a_bad_average_last_is_refused_before_training(tmp_path, value):
    from nlpseq.errors import ConfigError
    from nlpseq.training.config import resolve_config
    from nlpseq.training.run import TrainingRun

    config = resolve_config("ner", overrides=[f"training.average_last={value}"])
    with pytest.raises(ConfigError, match="training.average_last must be a whole number"):
        TrainingRun(config, tmp_path / "model", tmp_path / "work")
