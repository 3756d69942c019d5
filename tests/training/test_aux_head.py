"""The auxiliary tag head (`head.aux_field`): a second CoNLL-U tag field learnt in training only."""

import json

import keras
import numpy as np
import pytest

from nlpseq.layers.heads import masked_softmax_cross_entropy
from nlpseq.models.tagger import SequenceTagger
from tests.conftest import run_training, tiny_tagger_overrides, write_splits


def _tagger(aux_tags, aux_weight=0.5):
    keras.utils.set_random_seed(0)
    model = SequenceTagger(word_vocab_size=20, num_tags=4, word_dim=6, char_vocab_size=0, casing_dim=0, units=5,
                           head="softmax", aux_tags=aux_tags, aux_weight=aux_weight)
    return model


def test_the_auxiliary_loss_joins_only_in_training():
    words = np.array([[3, 4, 5, 0], [6, 7, 0, 0]], "int32")
    tags = np.array([[1, 2, 3, 0], [0, 1, 0, 0]], "int32")
    aux = np.array([[2, 0, 1, 0], [1, 1, 0, 0]], "int32")
    model = _tagger(aux_tags=3, aux_weight=0.7)
    inputs = {"words": words, "aux_tags": aux}
    assert model(inputs, training=False).shape == (2, 4, 4)  # serving sees the main scores only

    scores, aux_scores = model(inputs, training=True)
    assert aux_scores.shape == (2, 4, 3)
    mask = words != 0
    expected = (masked_softmax_cross_entropy(scores, tags, mask)
                + 0.7 * masked_softmax_cross_entropy(aux_scores, aux, mask))
    loss = model.compute_loss(inputs, tags, (scores, aux_scores))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loss), keras.ops.convert_to_numpy(expected), rtol=1e-6)
    # Without the head's output (evaluation), the loss is the main tags' alone.
    main_only = model.compute_loss(inputs, tags, scores)
    assert float(keras.ops.convert_to_numpy(main_only)) < float(keras.ops.convert_to_numpy(loss))

    restored = SequenceTagger.from_config(model.get_config())
    assert restored.aux_tags == 3 and restored.aux_weight == pytest.approx(0.7)


def _write_xpos_conllu(path, sentences):
    # UPOS in column 4 and a finer XPOS in column 5 (plural nouns get NNS).
    lines = []
    for words, tags in sentences:
        for i, (w, t) in enumerate(zip(words, tags), start=1):
            xpos = {"NOUN": "NNS" if w.endswith("s") else "NN", "VERB": "VBD", "DET": "DT", "PROPN": "NNP"}.get(t, ".")
            lines.append(f"{i}\t{w}\t{w}\t{t}\t{xpos}\t_\t0\tdep\t_\t_")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _sentences(n, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        noun = str(rng.choice(["dog", "dogs", "cat", "cats"]))
        out.append((["the", noun, str(rng.choice(["saw", "found"])), str(rng.choice(["Oslo", "Rome"])), "."],
                    ["DET", "NOUN", "VERB", "PROPN", "PUNCT"]))
    return out


def test_a_pos_tagger_trains_with_an_xpos_head_and_serves_upos(tmp_path):
    from nlpseq import Tagger

    files = write_splits(tmp_path, _write_xpos_conllu, _sentences, (60, 10, 10), ".conllu")
    overrides = [o for o in tiny_tagger_overrides(files, epochs=2) if not o.startswith("data.scheme")]
    overrides += ["data.format=conllu", "data.scheme=null", "head.aux_field=xpos", "head.aux_weight=0.5"]
    assert run_training("pos", tmp_path, "m", overrides) == 0
    aux_tags = json.loads((tmp_path / "w-m" / "features" / "aux_tags.json").read_text())
    assert aux_tags == [".", "DT", "NN", "NNP", "NNS", "VBD"]

    model = keras.models.load_model(tmp_path / "m" / "model.keras")
    assert model.aux_tags == 6 and model.aux_head is not None
    pairs = Tagger.load(tmp_path / "m").tag("the dogs saw Rome .")
    assert {t for _, t in pairs} <= {"DET", "NOUN", "VERB", "PROPN", "PUNCT"}  # UPOS out, not XPOS
    # --resume rebuilds the same model (aux head included) from the work dir.
    assert run_training("pos", tmp_path, "m", overrides + ["training.epochs=3"], "--resume") == 0


@pytest.mark.parametrize("extra, message", [
    (["head.aux_field=xpos"], "needs CoNLL-U"),
    (["data.format=conllu", "data.scheme=null", "head.aux_field=upos"], "already the main tag field"),
])
def test_bad_auxiliary_settings_are_refused(tmp_path, extra, message, capsys):
    files = write_splits(tmp_path, _write_xpos_conllu, _sentences, (10, 5, 5), ".conllu")
    overrides = [o for o in tiny_tagger_overrides(files, epochs=1) if not o.startswith("data.scheme")]
    assert run_training("pos", tmp_path, "m", overrides + extra) == 2
    assert message in capsys.readouterr().err
