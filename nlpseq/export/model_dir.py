"""The model directory: one folder holding everything a trained model needs.

    MODEL_DIR/
      model.keras      the Keras model (any backend can load it)
      saved_model/     TensorFlow SavedModel taking raw strings (serving)
      assets/          vocabularies and feature options
      config.yaml      the resolved training config
      metrics.json     dev/test metrics and training time
      README.md        the model card

A directory is written under a temporary name and renamed into place, so an
interrupted export never leaves a half-written model where a good one was.
"""

import json
import os
import platform
import shutil
import sys
from pathlib import Path

import keras
import numpy as np
import yaml

from nlpseq.errors import ModelDirError
from nlpseq.export.half_precision import (
    check_weights_dtype,
    keras_file_to_float16,
    quantize_rows_int8,
)
from nlpseq.export.saved_model import export_tagger
from nlpseq.training.config import save_config

REQUIRED = ("config.yaml", "saved_model", "assets")


def replace_dir(build, target):
    """Builds a directory with `build(tmp_path)` then moves it to `target` atomically.

    Args:
        build: callable taking the temporary directory path and filling it.
        target: the final directory path (an existing one is replaced).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        build(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


def _run_lines(metrics, wall_seconds, size_mb):
    """The model card lines on how a model was made: commands, time, size."""
    return [
        f"- training command: `{metrics.get('command', 'n/a')}`"
        + "".join(f"; resumed with `{c}`" for c in metrics.get("resumed_with", [])),
        f"- training time: {metrics.get('train_seconds', 0) / 60:.1f} min of epochs "
        f"({wall_seconds / 60:.1f} min wall{' in the last resumed process' if metrics.get('resumed_with') else ''})"
        f" on {platform.machine()} CPU, best epoch {metrics.get('best_epoch')} "
        f"of {metrics.get('epochs_run')}"
        + (f"; shipped weights: the mean of epochs {metrics['averaged_epochs'][0]}–{metrics['averaged_epochs'][-1]}"
           if metrics.get("weights") == "averaged" else ""),
        f"- size on disk: {size_mb:.1f} MB",
    ]


def _lm_feature_text(lm_config):
    """The card's words for `features.lm`: which language models feed the tagger, if any."""
    lm_config = lm_config or {}
    named = [f"{side} `{lm_config[side]}`" for side in ("forward", "backward") if lm_config.get(side)]
    projected = f", projected to {lm_config['dim']}d" if lm_config.get("dim") else ""
    return f" + frozen language-model states ({', '.join(named)}{projected})" if named else ""


def _branch_text(config):
    """The card's words for the encoder and head, and for `encoder.branches` when there are several."""
    encoder = config["encoder"]
    branch = (f"{'Bi' if encoder['bidirectional'] else ''}{encoder['cell'].upper()}"
              f" {encoder['num_layers']}×{encoder['units']} → {config['head']['type']}")
    branches = encoder.get("branches", 1)
    if branches == 1:
        return f" → {branch}"
    return f" → {branches} branches of ({branch}), tagging by Viterbi over their summed scores"


def _warm_start_lines(training):
    """Card lines for `training.init_from` / `training.freeze`: the model this one grew from."""
    lines = []
    if training.get("init_from"):
        lines.append(f"- started from: `{training['init_from']}` (its vocabularies and weights)")
    if training.get("freeze"):
        lines.append(f"- frozen in training: {', '.join(training['freeze'])}")
    return lines


def _card(config, metrics, wall_seconds, size_mb):
    task = config["task"]
    title = {"ner": "Named-entity recognition", "pos": "Part-of-speech tagging"}.get(task, task)
    lines = [
        f"# {title} — nlpseq SequenceTagger",
        "",
        f"- data: train `{config['data']['train']}`, dev `{config['data']['dev']}`, test `{config['data']['test']}`",
        f"- architecture: word embeddings ({config['features']['word']['dim']}d"
        f"{', pretrained ' + str(config['features']['word']['pretrained']) if config['features']['word']['pretrained'] else ', random init'})"
        f" + char {config['features']['char']['type']} + casing {config['features']['casing']['dim']}d"
        + _lm_feature_text(config["features"].get("lm"))
        + _branch_text(config)
        + (f" (plus a {config['head']['aux_field']} softmax head, loss weight {config['head']['aux_weight']},"
           " used in training only)" if config["head"].get("aux_field") else ""),
        *_warm_start_lines(config.get("training", {})),
        f"- stored weights: {_stored_text(stored_weights_dtype(config))} (in `model.keras` and in the SavedModel)",
        *_run_lines(metrics, wall_seconds, size_mb),
        "",
        "## Metrics",
        "",
        "| metric | value |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v:.4f} |" for k, v in metrics.items() if isinstance(v, float) and k != "train_seconds"]
    lines += ["", "## Use", "", "```python", "from nlpseq import Tagger",
              "tagger = Tagger.load(\"MODEL_DIR\")", "tagger.tag(\"EU rejects German call to boycott British lamb .\")",
              "```", "", "## Config", "", "```yaml", yaml.safe_dump(config, sort_keys=False).rstrip(), "```", ""]
    return "\n".join(lines)


def inference_copy(model, example_inputs=None):
    """An uncompiled copy of a model with the same weights.

    Exports hold no optimizer state: Adam's two slots per weight would triple
    the size of every file for nothing a user of the model needs.

    Args:
        model: a built Keras model.
        example_inputs: inputs of one call that builds every sub-layer; by
            default ones of the recorded input shapes (a tagger's dict of ids).

    Returns:
        The copy.
    """
    copy = _built_copy(model, example_inputs)
    copy.set_weights(model.get_weights())
    return copy


def _built_copy(model, example_inputs=None, **config_changes):
    """A new model of `model`'s class and config (with `config_changes`), built but with fresh weights."""
    copy = model.__class__.from_config({**model.get_config(), **config_changes})
    if example_inputs is None:
        shapes = model.get_build_config()["input_shape"]
        example_inputs = {name: np.ones(shape, "int32") for name, shape in shapes.items()}
    copy(example_inputs)  # builds every sub-layer, as the original was built
    return copy


def int8_inference_copy(model):
    """An uncompiled copy of a tagger whose word table is stored as int8 codes and row steps.

    The codes come from `quantize_rows_int8` of the model's table, so the copy
    computes exactly what the model does after `round_word_embeddings_to_int8`.

    Args:
        model: a built SequenceTagger with a float word embedding.

    Returns:
        The copy (`word_storage="int8"`).
    """
    copy = _built_copy(model, word_storage="int8")
    for source, target in zip(model.layers, copy.layers):
        if source is model.word_embedding:
            target.set_int8(*quantize_rows_int8(source.table()))
        else:
            target.set_weights(source.get_weights())
    return copy


def current_command():
    """This process's command line, as a user would type it."""
    return " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))


def _dir_size_mb(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 1e6


def write_model_dir(output_dir, model, assets, export, config, metrics, card, wall_seconds=0.0,
                    weights_dtype="float32"):
    """Writes a model directory atomically (the shared part of every task's writer).

    Args:
        output_dir: the directory to (re)create.
        model: the inference copy of the trained Keras model (no optimizer).
        assets: an object with `save(directory)` for the vocabularies.
        export: callable(model, path) writing the SavedModel (TensorFlow backend).
        config: the resolved config.
        metrics: dict of metrics (saved as metrics.json and shown in the card).
        card: callable(config, metrics, wall_seconds, size_mb) -> the README text.
        wall_seconds: the whole run's duration, for the card.
        weights_dtype: "float16" stores `model.keras`'s float weights in 16 bits
            (`export` must do the same for the SavedModel); "int8" likewise, for
            a model whose word table is already int8 (`int8_inference_copy`).
    """
    metrics = dict(metrics)
    metrics.setdefault("command", current_command())

    def build(tmp):
        model.save(tmp / "model.keras")
        if weights_dtype in ("float16", "int8"):  # int8 codes stay int8; every float becomes float16
            keras_file_to_float16(tmp / "model.keras")
        assets.save(tmp / "assets")
        save_config(config, tmp / "config.yaml")
        if keras.backend.backend() == "tensorflow":
            export(model, tmp / "saved_model")
        else:
            print(f"note: no SavedModel with the {keras.backend.backend()} backend; "
                  f"run `KERAS_BACKEND=tensorflow nlpseq export {output_dir}` to add it")
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(card(config, metrics, wall_seconds, _dir_size_mb(tmp)), encoding="utf-8")

    replace_dir(build, output_dir)


def write_tagger_dir(output_dir, model, features, config, metrics, wall_seconds=0.0):
    """Writes a complete tagger model directory (see `write_model_dir`; `features` are its assets)."""
    dtype = stored_weights_dtype(config)
    copy = int8_inference_copy(model) if dtype == "int8" else inference_copy(model)
    write_model_dir(output_dir, copy, features,
                    lambda m, path: export_tagger(m, features, path, dtype),
                    config, metrics, _card, wall_seconds, weights_dtype=dtype)


def export_saved_model(model_dir):
    """(Re)writes MODEL_DIR/saved_model from its `model.keras` and assets (TensorFlow backend).

    Args:
        model_dir: a model directory, e.g. one trained with the JAX backend.
    """
    import nlpseq.models  # registers the models for loading
    from nlpseq.data.features import TaggingFeatures

    model_dir = Path(model_dir)
    if keras.backend.backend() != "tensorflow":
        raise ModelDirError("SavedModel export needs the TensorFlow backend (set KERAS_BACKEND=tensorflow)")
    if not (model_dir / "model.keras").is_file():
        raise ModelDirError(f"{model_dir / 'model.keras'} not found")
    model = keras.models.load_model(model_dir / "model.keras", compile=False)
    # The directory's storage setting holds for its SavedModel too.
    dtype = stored_weights_dtype(yaml.safe_load((model_dir / "config.yaml").read_text(encoding="utf-8")))
    if isinstance(model, nlpseq.models.RNNLanguageModel):
        from nlpseq.export.lm_saved_model import export_lm
        from nlpseq.tokenizers.text_encoder import TextEncoder

        encoder = TextEncoder.load(model_dir / "assets")
        replace_dir(lambda tmp: export_lm(model, encoder, tmp, dtype), model_dir / "saved_model")
        return
    if isinstance(model, nlpseq.models.Seq2SeqModel):
        from nlpseq.export.translation_saved_model import export_translator
        from nlpseq.training.translation import TranslationEncoders

        encoders = TranslationEncoders.load(model_dir / "assets")
        decoding = yaml.safe_load((model_dir / "config.yaml").read_text(encoding="utf-8"))["decoding"]
        limits = {k: decoding[k] for k in ("max_length_ratio", "max_length_offset")}
        replace_dir(lambda tmp: export_translator(model, encoders.source, encoders.target, tmp, **limits),
                    model_dir / "saved_model")
        return
    features = TaggingFeatures.load(model_dir / "assets")
    replace_dir(lambda tmp: export_tagger(model, features, tmp, dtype), model_dir / "saved_model")


def check_model_dir(path, kinds=("ner", "pos")):
    """Validates a model directory and returns its config.

    Args:
        path: the directory.
        kinds: the tasks accepted here.

    Returns:
        The config dict.

    Raises:
        ModelDirError: missing directory, missing parts, or a model of another task.
    """
    path = Path(path)
    if not path.is_dir():
        raise ModelDirError(f"model directory not found: {path}")
    missing = [name for name in REQUIRED if not (path / name).exists()]
    if missing == ["saved_model"] and (path / "model.keras").is_file():
        raise ModelDirError(f"{path} has no SavedModel yet; run `nlpseq export {path}` (TensorFlow backend)")
    if missing:
        raise ModelDirError(f"{path} is not an nlpseq model directory (missing {', '.join(missing)})")
    try:
        config = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ModelDirError(f"cannot read {path / 'config.yaml'}: {err}") from None
    if not isinstance(config, dict) or config.get("task") not in kinds:
        task = config.get("task") if isinstance(config, dict) else None
        raise ModelDirError(f"{path} holds a '{task}' model; expected one of: {', '.join(kinds)}")
    return config


def load_saved_model(path, kinds):
    """Checks a model directory and loads its SavedModel.

    Args:
        path: the model directory.
        kinds: the tasks accepted (e.g. ("lm",)).

    Returns:
        `(config, loaded SavedModel)`.

    Raises:
        ModelDirError: the directory is missing, incomplete, corrupt or of another task.
    """
    config = check_model_dir(path, kinds=kinds)
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers ops the SavedModel may use, e.g. SentencePiece)

    try:
        saved = tf.saved_model.load(str(Path(path) / "saved_model"))
    except Exception as err:  # TF raises many types for a corrupt SavedModel.
        raise ModelDirError(f"cannot load {Path(path) / 'saved_model'}: {type(err).__name__}") from None
    return config, saved


def _lm_card(config, metrics, wall_seconds, size_mb):
    m, t = config["model"], config["training"]
    units = m["units"] if isinstance(m["units"], list) else [m["units"]] * m["num_layers"]
    lines = [
        "# Language model — nlpseq RNNLanguageModel",
        "",
        f"- data: train `{config['data']['train']}`, dev `{config['data']['dev']}`, test `{config['data']['test']}`",
        f"- tokens: {config['tokenizer']['type']}"
        + (f" (SentencePiece {config['tokenizer']['model_type']}, {config['tokenizer']['vocab_size']} pieces)"
           if config["tokenizer"]["type"] == "sentencepiece" else ""),
        f"- architecture: embeddings {m['embedding_dim']}d → {m['cell'].upper()} {'×'.join(map(str, units))}"
        f" → softmax{' (tied to the embeddings)' if m['tie_weights'] else ''}; {metrics.get('parameters', 0):,} parameters",
        f"- regularization: embedding dropout {m['embedding_dropout']}, variational dropout "
        f"{m['input_dropout']} (input) / {m['dropout']} (between layers) / {m['output_dropout']} (output)"
        + (f", weight drop {m['weight_drop']} (hidden-to-hidden)" if m.get("weight_drop") else ""),
        f"- training: truncated BPTT {t['bptt']} steps × {t['batch_size']} rows, {t['optimizer']} lr {t['learning_rate']}"
        + (f" (×{t['lr_decay']} after an epoch without dev gain"
           + (f" and after every epoch from epoch {t['decay_start']} on" if t.get("decay_start") else "") + ")"
           if t.get("lr_decay") else "")
        + f", global clip norm {t['global_clipnorm']}",
        f"- stored weights: {stored_weights_dtype(config)} (in `model.keras` and in the SavedModel)",
        *_run_lines(metrics, wall_seconds, size_mb),
        "",
        "## Metrics",
        "",
        "Perplexity is per word with one `<eos>` per line (the standard PTB protocol), over the whole stream.",
        "",
        "| metric | value |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v:.2f} |" if isinstance(v, float) else f"| {k} | {v:,} |" for k, v in metrics.items()
              if isinstance(v, (int, float)) and ("perplexity" in k or k.endswith("tokens"))]
    lines += ["", "## Use", "", "```python", "from nlpseq import LanguageModel", "lm = LanguageModel.load(\"MODEL_DIR\")",
              "lm.generate(\"the company said\", max_new_tokens=30, strategy=\"top_p\", top_p=0.9, seed=1)",
              "lm.score(\"the company said it expects higher earnings\")",
              "```", "", "## Config", "", "```yaml", yaml.safe_dump(config, sort_keys=False).rstrip(), "```", ""]
    return "\n".join(lines)


def write_lm_dir(output_dir, lm, encoder, config, metrics, wall_seconds=0.0):
    """Writes a complete language-model directory (see `write_model_dir`; `encoder` is its asset)."""
    from nlpseq.export.lm_saved_model import export_lm

    dtype = stored_weights_dtype(config)
    write_model_dir(output_dir, inference_copy(lm, np.ones((1, 1), "int32")), encoder,
                    lambda m, path: export_lm(m, encoder, path, dtype),
                    config, metrics, _lm_card, wall_seconds, weights_dtype=dtype)


def _stored_text(dtype):
    """The card's words for a storage setting."""
    if dtype == "int8":
        return "int8 word embeddings (one float16 step per row), float16 for the other weights"
    return dtype


def stored_weights_dtype(config):
    """How a model directory stores its weights (`export.weights_dtype`; float32 in
    directories written before the setting existed)."""
    return check_weights_dtype((config.get("export") or {}).get("weights_dtype", "float32"))


def _translation_card(config, metrics, wall_seconds, size_mb):
    m, t, d, tok = config["model"], config["training"], config["decoding"], config["tokenizer"]
    data = config["data"]
    lines = [
        "# Translation — nlpseq Seq2SeqModel",
        "",
        f"- data: train `{data['train_source']}` → `{data['train_target']}`, dev `{data['dev_source']}`, "
        f"test `{data['test_source']}` → `{data['test_target']}`",
        f"- tokens: {tok['type']}"
        + (f" {tok['model_type']}, {tok['vocab_size']} pieces {'(joint)' if tok['joint'] else 'per language'}"
           if tok["type"] == "sentencepiece" else ""),
        f"- architecture: embeddings {m['embedding_dim']}d → bidirectional {m['cell'].upper()} "
        f"{m['encoder_layers']}×{m['encoder_units']} per direction → bridge → {m['cell'].upper()} decoder "
        f"{m['decoder_layers']}×{m['decoder_units']} with {m['attention']} attention and input feeding; "
        f"{metrics.get('parameters', 0):,} parameters",
        f"- regularization: dropout {m['dropout']}, label smoothing {m['label_smoothing']}",
        f"- training: batches of {t['batch_size']} sentence pairs, {t['optimizer']} lr {t['learning_rate']}, "
        f"global clip norm {t['global_clipnorm']}, early stopping on dev {t['early_stopping']}",
        f"- decoding: beam {d['beam_size']}, length penalty {d['length_penalty']}, at most "
        f"{d['max_length_ratio']} × source tokens + {d['max_length_offset']}",
        *_run_lines(metrics, wall_seconds, size_mb),
        "",
        "## Metrics",
        "",
        "| metric | value |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v:.2f} |" for k, v in metrics.items() if isinstance(v, float) and k != "train_seconds"]
    lines += [f"| {k} | `{v}` |" for k, v in metrics.items() if k.endswith("signature")]
    lines += ["", "## Use", "", "```python", "from nlpseq import Translator",
              "tr = Translator.load(\"MODEL_DIR\")", "tr.translate(\"A man is riding a bicycle.\", beam_size=5)",
              "```", "", "## Config", "", "```yaml", yaml.safe_dump(config, sort_keys=False).rstrip(), "```", ""]
    return "\n".join(lines)


def write_translation_dir(output_dir, model, encoders, config, metrics, wall_seconds=0.0):
    """Writes a complete translation model directory (see `write_model_dir`; `encoders` are its assets)."""
    from nlpseq.export.translation_saved_model import export_translator

    copy = inference_copy(model, {"source": np.ones((1, 2), "int32"), "target_in": np.ones((1, 2), "int32")})
    limits = {k: config["decoding"][k] for k in ("max_length_ratio", "max_length_offset")}
    write_model_dir(output_dir, copy, encoders,
                    lambda m, path: export_translator(m, encoders.source, encoders.target, path, **limits),
                    config, metrics, _translation_card, wall_seconds)
