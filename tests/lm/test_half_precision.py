"""Weights stored in 16 bits (`export.weights_dtype: float16`): smaller files, same float32 arithmetic."""

import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from nlpseq import LanguageModel
from nlpseq.cli import main
from nlpseq.errors import ConfigError
from nlpseq.export.half_precision import keras_file_to_float16, round_weights_to_float16
from nlpseq.export.lm_saved_model import LMGenerator, export_lm
from nlpseq.export.model_dir import inference_copy
from nlpseq.models.language_model import RNNLanguageModel
from nlpseq.tokenizers.text_encoder import TextEncoder
from tests.conftest import (
    make_lm_lines,
    run_training,
    tiny_lm_overrides,
    write_splits,
    write_text_file,
)
from tests.helpers import stored_arrays


@pytest.fixture(scope="module")
def small_lm():
    encoder = TextEncoder.build(make_lm_lines(60), kind="word", min_freq=1, max_size=None, lowercase=False,
                                vocab_size=100, model_type="unigram", seed=1)
    lm = RNNLanguageModel(encoder.vocab_size, embedding_dim=32, units=48, num_layers=2)
    lm(np.ones((1, 1), "int32"))
    return lm, encoder


def test_rounding_makes_every_weight_exact_in_float16(small_lm):
    copy = inference_copy(small_lm[0], np.ones((1, 1), "int32"))
    change = round_weights_to_float16(copy)
    assert 0 < change < 1e-3
    for value in copy.get_weights():
        np.testing.assert_array_equal(value, value.astype(np.float16).astype(np.float32))
    assert round_weights_to_float16(copy) == 0.0  # already rounded


def test_rounding_refuses_weights_beyond_float16():
    layer = keras.layers.Dense(2)
    layer.build((None, 2))
    layer.set_weights([np.full((2, 2), 1e6, "float32"), np.zeros(2, "float32")])
    with pytest.raises(ConfigError, match="beyond float16"):
        round_weights_to_float16(layer)


def test_keras_file_halves_and_loads_into_float32_variables(tmp_path, small_lm):
    lm, _ = small_lm
    path = tmp_path / "lm.keras"
    lm.save(path)
    before = stored_arrays(path)
    size = len(zipfile.ZipFile(path).read("model.weights.h5"))
    keras_file_to_float16(path)
    after = stored_arrays(path)
    assert after.keys() == before.keys()
    assert all(a.dtype == np.float16 for k, a in after.items() if before[k].dtype == np.float32)
    assert len(zipfile.ZipFile(path).read("model.weights.h5")) < 0.6 * size
    loaded = keras.models.load_model(path, compile=False)
    assert all(w.dtype == "float32" for w in loaded.weights)
    for got, original in zip(loaded.get_weights(), lm.get_weights()):
        np.testing.assert_array_equal(got, original.astype(np.float16).astype(np.float32))


def test_float16_saved_model_stores_half_and_scores_as_the_rounded_model(tmp_path, small_lm):
    lm, encoder = small_lm
    rounded = inference_copy(lm, np.ones((1, 1), "int32"))
    round_weights_to_float16(rounded)
    export_lm(rounded, encoder, tmp_path / "f32")
    export_lm(rounded, encoder, tmp_path / "f16", "float16")
    sizes = {d: sum(f.stat().st_size for f in (tmp_path / d / "variables").iterdir()) for d in ("f32", "f16")}
    assert sizes["f16"] < 0.6 * sizes["f32"]
    f32, f16 = (tf.saved_model.load(str(tmp_path / d)) for d in ("f32", "f16"))
    assert {v.dtype for v in f16.signatures["score"].variables} == {tf.float16}
    texts = tf.constant(["the cat likes the dog", "a"])
    np.testing.assert_allclose(f16.score(texts)["log_prob"].numpy(), f32.score(texts)["log_prob"].numpy(), rtol=1e-5)
    prompts, steps = tf.constant(["the", "my friend"]), tf.constant(6)
    assert (f16.generate_greedy(prompts, steps)["texts"].numpy() == f32.generate_greedy(prompts, steps)["texts"].numpy()).all()
    beam = (prompts, steps, tf.constant(3), tf.constant(0.6))
    assert (f16.generate_beam(*beam)["texts"].numpy() == f32.generate_beam(*beam)["texts"].numpy()).all()


def test_generator_rejects_an_unknown_storage_dtype(small_lm):
    with pytest.raises(ConfigError, match="export.weights_dtype"):
        LMGenerator(*small_lm, weights_dtype="int8")


def test_training_with_float16_storage_ships_and_scores_the_rounded_weights(tmp_path, capsys):
    files = write_splits(tmp_path, write_text_file, make_lm_lines, (150, 20, 20), ".txt")
    overrides = tiny_lm_overrides(files, epochs=1) + ["export.weights_dtype=float16"]
    assert run_training("lm", tmp_path, "half", overrides) == 0
    out = tmp_path / "half"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dev_perplexity_float16"] == pytest.approx(metrics["dev_perplexity"], rel=1e-2)
    assert "- stored weights: float16" in (out / "README.md").read_text()
    assert {a.dtype for a in stored_arrays(out / "model.keras").values() if a.dtype.kind == "f"} == {np.dtype("float16")}
    capsys.readouterr()
    assert main(["evaluate", str(out), str(files["test"])]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["perplexity"] == pytest.approx(metrics["test_perplexity"], rel=1e-5)
    assert LanguageModel.load(out).generate("the cat", max_new_tokens=3).startswith("the cat")
    # `nlpseq export` rebuilds the SavedModel from model.keras with the same storage.
    assert main(["export", str(out)]) == 0
    saved = tf.saved_model.load(str(out / "saved_model"))
    assert {v.dtype for v in saved.signatures["score"].variables} == {tf.float16}


def test_unknown_storage_dtype_fails_before_training(tmp_path, capsys):
    files = write_splits(tmp_path, write_text_file, make_lm_lines, (150, 20, 20), ".txt")
    overrides = tiny_lm_overrides(files, epochs=1) + ["export.weights_dtype=bfloat16"]
    assert run_training("lm", tmp_path, "bad", overrides) == 2
    err = capsys.readouterr().err.strip()
    assert "export.weights_dtype must be one of float32, float16, got 'bfloat16'" in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "bad").exists()
