"""A tagger directory with its weights stored in 16 bits (`export.weights_dtype: float16`)."""

import json

import keras
import numpy as np
import tensorflow as tf

from nlpseq import Tagger
from nlpseq.cli import main
from nlpseq.data.features import TaggingFeatures
from nlpseq.export.saved_model import export_tagger
from nlpseq.readers import read_conll
from nlpseq.training.evaluation import predict_tags
from tests.conftest import train_stored_tagger
from tests.helpers import saved_variables_bytes, stored_arrays


def test_float16_tagger_stores_half_and_tags_as_the_rounded_model(tmp_path, ner_files, capsys):
    out, metrics = train_stored_tagger(tmp_path, ner_files, "float16")
    # The dev score of the stored (rounded) weights sits beside the best epoch's.
    assert abs(metrics["dev_f1_float16"] - metrics["dev_f1"]) < 0.05
    assert "- stored weights: float16" in (out / "README.md").read_text()
    assert {a.dtype for a in stored_arrays(out / "model.keras").values() if a.dtype.kind == "f"} == {np.dtype("float16")}

    saved = tf.saved_model.load(str(out / "saved_model"))
    assert {v.dtype for v in saved.signatures["tag_tokens"].variables} == {tf.float16}
    # load_model assigns the stored arrays to float32 variables: the rounded model, in float32.
    model = keras.models.load_model(out / "model.keras", compile=False)
    features = TaggingFeatures.load(out / "assets")
    export_tagger(model, features, tmp_path / "f32")
    assert saved_variables_bytes(out / "saved_model") < 0.6 * saved_variables_bytes(tmp_path / "f32")

    sentences = [list(s.words) for s in read_conll(ner_files["test"])]
    tagged = [[t for _, t in row] for row in Tagger.load(out).tag_batch(sentences)]
    assert tagged == predict_tags(model, features, sentences)

    capsys.readouterr()
    assert main(["evaluate", str(out), str(ner_files["test"])]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["f1"] == metrics["test_f1"]
    # `nlpseq export` rebuilds the SavedModel with the directory's storage setting.
    assert main(["export", str(out)]) == 0
    rebuilt = tf.saved_model.load(str(out / "saved_model"))
    assert {v.dtype for v in rebuilt.signatures["tag_tokens"].variables} == {tf.float16}
    assert Tagger.load(out).tag_batch(sentences) == [list(zip(s, t)) for s, t in zip(sentences, tagged)]
