"""Other Keras backends and devices: JAX training on our tf.data pipeline, mirrored strategy, cuDNN settings."""

import json

import pytest

from tests.conftest import (
    make_lm_lines,
    tiny_lm_overrides,
    tiny_tagger_overrides,
    tiny_translation_overrides,
    write_parallel_splits,
    write_splits,
    write_text_file,
)

from tests.helpers import run_python as _run


def _train_on_jax(runs):
    """Trains each (task, output dir, overrides) through the CLI in one JAX-backend process."""
    code = f"""
        import keras, sys
        assert keras.backend.backend() == "jax"
        from nlpseq.cli import main
        for task, output, overrides in {[(t, str(o), ov) for t, o, ov in runs]!r}:
            args = ["train", task, "--output", output, "--work-dir", output + "-work", "--verbose", "0"]
            for item in overrides:
                args += ["--set", item]
            if main(args) != 0:
                sys.exit(1)
    """
    result = _run(code, {"KERAS_BACKEND": "jax"})
    assert result.returncode == 0, result.stderr[-3000:]


def test_jax_backend_trains_and_tensorflow_exports(tmp_path, ner_files):
    pytest.importorskip("jax")
    out = tmp_path / "jax-model"
    _train_on_jax([("ner", out, tiny_tagger_overrides(ner_files, epochs=1))])
    assert (out / "model.keras").is_file() and not (out / "saved_model").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == 1 and 0 <= metrics["test_f1"] <= 1

    # The JAX-trained .keras file loads on TensorFlow and exports the serving model.
    from nlpseq import ModelDirError, Tagger
    from nlpseq.cli import main

    with pytest.raises(ModelDirError, match="nlpseq export"):
        Tagger.load(out)
    assert main(["export", str(out)]) == 0
    pairs = Tagger.load(out).tag("Mary visited Paris .")
    assert [w for w, _ in pairs] == ["Mary", "visited", "Paris", "."]


def test_weight_drop_passes_gradients_to_every_weight_on_jax():
    """On JAX the train step already reads the weights through a stateless scope; weight drop's own
    scope must hand on those traced values, or the cell's other weights would get no gradient."""
    pytest.importorskip("jax")
    code = """
        import json, jax, keras, numpy as np
        from nlpseq.layers import RecurrentStack
        keras.utils.set_random_seed(5)
        stack = RecurrentStack(16, cell="lstm", num_layers=2, weight_drop=0.5)
        x = np.random.default_rng(0).normal(size=(3, 9, 4)).astype("float32")
        stack.build(x.shape)
        non_trainable = [v.value for v in stack.non_trainable_variables]

        def loss(trainable):
            (y, _), _ = stack.stateless_call(trainable, non_trainable, x, training=True)
            return y.sum()

        grads = jax.grad(loss)([v.value for v in stack.trainable_variables])
        print(json.dumps({v.path: float(np.mean(np.asarray(g) == 0))
                          for v, g in zip(stack.trainable_variables, grads)}))
    """
    result = _run(code, {"KERAS_BACKEND": "jax"})
    assert result.returncode == 0, result.stderr[-3000:]
    zeros = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(zeros) == 6  # kernel, recurrent kernel, bias per layer
    for path, share in zeros.items():
        if path.endswith("recurrent_kernel"):
            assert 0.35 < share < 0.65, (path, share)
        else:
            assert share < 0.1, (path, share)


@pytest.mark.slow
def test_jax_backend_trains_language_and_translation_models(tmp_path):
    """Truncated BPTT with carried state and the attention decoder train on JAX (every new
    batch shape compiles anew there, hence opt-in); TensorFlow then exports both."""
    pytest.importorskip("jax")
    lm_files = write_splits(tmp_path, write_text_file, make_lm_lines, (60, 10, 10), ".txt")
    (tmp_path / "mt").mkdir()
    mt_files = write_parallel_splits(tmp_path / "mt", sizes=(40, 8, 8))
    lm_dir, mt_dir = tmp_path / "jax-lm", tmp_path / "jax-mt"
    _train_on_jax([("lm", lm_dir, tiny_lm_overrides(lm_files, epochs=1)),
                   ("translation", mt_dir, tiny_translation_overrides(mt_files, epochs=1))])
    from nlpseq import LanguageModel, Translator
    from nlpseq.cli import main

    for model_dir in (lm_dir, mt_dir):
        assert main(["export", str(model_dir)]) == 0
    assert json.loads((lm_dir / "metrics.json").read_text())["test_perplexity"] > 1
    assert LanguageModel.load(lm_dir).generate("the cat", max_new_tokens=3).startswith("the cat")
    assert isinstance(Translator.load(mt_dir).translate("a man rides a red bike ."), str)


def test_mirrored_strategy_matches_one_device(tmp_path, ner_files):
    overrides = tiny_tagger_overrides(ner_files, epochs=1) + [
        "features.dropout=0", "encoder.dropout=0", "head.dropout=0", "features.word.unk_replace=0",
        "training.drop_remainder=true"]
    code = f"""
        import json, sys
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from nlpseq.training.config import resolve_config
        from nlpseq.training.tagging import train_tagger
        losses = {{}}
        for kind in ("none", "mirrored"):
            config = resolve_config("ner", None, {overrides!r} + ["training.distribution=" + kind])
            out = {str(tmp_path)!r} + "/" + kind
            train_tagger(config, out, work_dir=out + "-work", verbose=0)
            state = json.load(open(out + "-work/checkpoints/state.json"))
            losses[kind] = [h["loss"] for h in state["history"]]
        print("LOSSES", json.dumps(losses))
    """
    result = _run(code, {"KERAS_BACKEND": "tensorflow"})
    assert result.returncode == 0, result.stderr[-3000:]
    line = [x for x in result.stdout.splitlines() if x.startswith("LOSSES")][-1]
    losses = json.loads(line.split(" ", 1)[1])
    assert len(losses["mirrored"]) == 1
    for single, mirrored in zip(losses["none"], losses["mirrored"]):
        assert mirrored == pytest.approx(single, rel=2e-3)


def test_built_tagger_keeps_cudnn_eligible_settings():
    from nlpseq.layers import cudnn_eligible
    from nlpseq.models.tagger import tagger_from_config
    from nlpseq.training.config import resolve_config

    for cell in ("lstm", "gru"):
        config = resolve_config("ner", None, [f"encoder.cell={cell}", "encoder.num_layers=2"])
        model = tagger_from_config(config, word_vocab_size=20, char_vocab_size=10, num_tags=5)
        import numpy as np
        model({"words": np.ones((1, 3), "int32"), "chars": np.ones((1, 3, 4), "int32"),
               "casing": np.ones((1, 3), "int32")})
        rnns = model.encoder.recurrent_layers()
        assert len(rnns) == 4  # 2 layers x 2 directions
        assert all(cudnn_eligible(layer) for layer in rnns)


def test_mixed_precision_switch_sets_the_policy(ner_files):
    import keras

    from nlpseq.data.features import TaggingFeatures
    from nlpseq.training.config import resolve_config
    from nlpseq.training.tagging import build_compiled_model

    config = resolve_config("ner", None, tiny_tagger_overrides(ner_files) + ["training.mixed_precision=true"])
    assert resolve_config("ner")["training"]["mixed_precision"] is False  # off by default on CPU
    features = TaggingFeatures.build([["Mary", "left"]], ["O", "S-PER"])
    try:
        model = build_compiled_model(config, features)
        assert keras.mixed_precision.global_policy().name == "mixed_float16"
        assert model.encoder.compute_dtype == "float16"
        out = model({k: v[None] for k, v in features.encode(["Mary", "left"]).items()})
        assert keras.backend.standardize_dtype(out.dtype) == "float32"  # the CRF scores stay in float32
    finally:
        keras.mixed_precision.set_global_policy("float32")
