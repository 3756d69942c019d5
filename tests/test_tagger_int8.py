"""A tagger directory with its word table stored in 8 bits (`export.weights_dtype: int8`)."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from nlpseq import Tagger
from nlpseq.cli import main
from nlpseq.data.features import TaggingFeatures
from nlpseq.errors import ConfigError, InputError
from nlpseq.export.half_precision import check_weights_dtype, quantize_rows_int8
from nlpseq.export.saved_model import export_tagger
from nlpseq.layers import WordEmbedding
from nlpseq.readers import read_conll
from nlpseq.training.evaluation import predict_tags
from tests.conftest import run_training, tiny_tagger_overrides, train_stored_tagger
from tests.helpers import saved_variables_bytes, stored_arrays


def test_quantize_rows_int8_keeps_each_row_within_half_a_step():
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(50, 16)).astype(np.float32) * rng.uniform(0.01, 5, size=(50, 1)).astype(np.float32)
    matrix[0] = 0.0  # padding
    codes, steps = quantize_rows_int8(matrix)
    assert codes.dtype == np.int8 and steps.dtype == np.float32 and steps.shape == (50,)
    assert steps[0] == 0 and not codes[0].any()
    # Steps are float16 values, so a float16 file stores them exactly.
    assert np.array_equal(steps.astype(np.float16).astype(np.float32), steps)
    error = np.abs(codes.astype(np.float32) * steps[:, None] - matrix)
    assert (error <= steps[:, None] / 2 + 1e-7).all()
    # Each row uses the codes' range: its largest entry maps to about +-127.
    assert (np.abs(codes[1:]).max(axis=1) >= 126).all()


def test_int8_word_embedding_looks_up_codes_times_steps_and_round_trips():
    codes = np.arange(-60, 60, dtype=np.int8).reshape(20, 6)
    steps = np.linspace(0, 1, 20).astype(np.float32)
    layer = WordEmbedding(20, 6, storage="int8")
    layer.set_int8(codes, steps)
    ids = np.array([[3, 7, 0]])
    expected = codes[ids].astype(np.float32) * steps[ids][..., None]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(ids)), expected, rtol=1e-6)
    np.testing.assert_allclose(layer.table(), codes.astype(np.float32) * steps[:, None], rtol=1e-6)
    assert layer.get_config()["storage"] == "int8" and not layer.trainable_weights
    copy = WordEmbedding.from_config(layer.get_config())
    copy.set_int8(codes, steps)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(copy(ids)), expected, rtol=1e-6)
    with pytest.raises(InputError, match="storage='int8'"):
        WordEmbedding(20, 6).set_int8(codes, steps)
    with pytest.raises(InputError, match="no float matrix"):
        _ = layer.embeddings
    with pytest.raises(ConfigError, match="storage must be one of float, int8"):
        WordEmbedding(20, 6, storage="int4")


def test_int8_storage_is_for_taggers_only():
    assert check_weights_dtype("int8", "ner") == "int8"
    with pytest.raises(ConfigError, match="must be one of float32, float16 for lm models, got 'int8'"):
        check_weights_dtype("int8", "lm")


def test_int8_tagger_stores_codes_and_tags_as_the_rounded_model(tmp_path, ner_files, capsys):
    out, metrics = train_stored_tagger(tmp_path, ner_files, "int8")
    assert abs(metrics["dev_f1_int8"] - metrics["dev_f1"]) < 0.05
    assert "- stored weights: int8 word embeddings" in (out / "README.md").read_text()
    arrays = stored_arrays(out / "model.keras")
    assert {a.dtype for a in arrays.values() if a.dtype.kind in "fi" and a.ndim} >= {np.dtype("int8")}
    assert {a.dtype for a in arrays.values() if a.dtype.kind == "f"} == {np.dtype("float16")}
    assert not any(a.dtype == np.float32 for a in arrays.values())

    saved = tf.saved_model.load(str(out / "saved_model"))
    assert {v.dtype for v in saved.signatures["tag_tokens"].variables} == {tf.float16, tf.int8}
    model = keras.models.load_model(out / "model.keras", compile=False)
    assert model.word_embedding.storage == "int8"
    features = TaggingFeatures.load(out / "assets")
    # Against a float16 SavedModel of the same (rounded) model: the table takes 1 byte an entry, not 2.
    float_model = model.__class__.from_config({**model.get_config(), "word_storage": "float"})
    float_model({k: np.ones((1, 3) if k != "chars" else (1, 3, 4), "int32") for k in model.feature_names})
    for source, target in zip(model.layers, float_model.layers):
        if source is model.word_embedding:
            target.set_pretrained(source.table())
        else:
            target.set_weights(source.get_weights())
    export_tagger(float_model, features, tmp_path / "f16", "float16")
    table_entries = model.word_embedding.vocab_size * model.word_embedding.dim
    assert saved_variables_bytes(out / "saved_model") < saved_variables_bytes(tmp_path / "f16") - 0.9 * table_entries

    sentences = [list(s.words) for s in read_conll(ner_files["test"])]
    tagged = [[t for _, t in row] for row in Tagger.load(out).tag_batch(sentences)]
    assert tagged == predict_tags(model, features, sentences) == predict_tags(float_model, features, sentences)

    capsys.readouterr()
    assert main(["evaluate", str(out), str(ner_files["test"])]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["f1"] == metrics["test_f1"]
    assert main(["export", str(out)]) == 0
    rebuilt = tf.saved_model.load(str(out / "saved_model"))
    assert {v.dtype for v in rebuilt.signatures["tag_tokens"].variables} == {tf.float16, tf.int8}
    assert Tagger.load(out).tag_batch(sentences) == [list(zip(s, t)) for s, t in zip(sentences, tagged)]

    # A run started from the int8 directory gets its table as floats, not as raw codes.
    assert run_training("ner", tmp_path, "warm", tiny_tagger_overrides(ner_files, epochs=1)
                        + ["features.word.dim=64", f"training.init_from={out}", "training.learning_rate=0.0"]) == 0
    warm = keras.models.load_model(tmp_path / "warm" / "model.keras", compile=False)
    np.testing.assert_allclose(warm.word_embedding.table(), model.word_embedding.table(), rtol=1e-6)
