"""Configurations: defaults in code, a task YAML over them, `--set a.b=value` over both.

A config is a plain nested dict. `resolve_config` merges the layers and rejects
unknown keys, so a typo in a YAML file or an override is an error instead of a
silently ignored setting. The resolved config is saved in the model directory.
"""

import copy
import re
from pathlib import Path

import yaml

from nlpseq import atomic_files
from nlpseq.errors import ConfigError

TAGGER_DEFAULTS = {
    "task": "ner",
    "seed": 1,
    "data": {
        "train": None,
        "dev": None,
        "test": None,
        "format": "conll",  # conll | conllu | a tfds:NAME spec needs format conll
        "tag_column": -1,
        "tag_field": "upos",  # CoNLL-U only: upos | xpos
        "scheme": None,  # tag scheme of the files (NER: IOB1 for CoNLL-2003); None for POS
        "model_scheme": "IOBES",  # scheme the model predicts in (NER only)
    },
    "features": {
        "word": {
            "dim": 100,
            "min_freq": 1,
            "max_size": None,
            "lowercase": True,
            "normalize_digits": True,
            "pretrained": None,  # word2vec text format file
            "pretrained_max_words": 30000,  # words added from the vectors beyond the training vocabulary
            "trainable": True,
            "unk_replace": 0.5,  # training singletons become <unk> with this probability
        },
        # boundaries: begin/end-of-word markers around each word's characters (suffix-aware n-grams).
        "char": {"type": "cnn", "dim": 25, "units": 50, "kernel_size": 3, "max_word_len": 20,
                 "boundaries": False},
        "casing": {"dim": 4},  # 0 turns the casing feature off
        # SentencePiece pieces trained on the training words, pooled per word.
        "subword": {"type": None, "vocab_size": 4000, "dim": 50, "pooling": "first"},  # type: None | bpe | unigram
        # Contextual features: the states of pretrained language models (model directories of
        # `nlpseq train lm` with a SentencePiece tokenizer, e.g. a char LM), frozen. forward reads
        # left to right; backward is a model trained with data.reverse: true. dim: if set, a trainable
        # linear projection of their states to this size (a smaller encoder, so a smaller model).
        "lm": {"forward": None, "backward": None, "dim": None},
        "dropout": 0.5,
    },
    # branches: K encoder + head branches over the shared word features, each with its own loss;
    # prediction adds their scores (an ensemble of K taggers that stores the word table once).
    "encoder": {"cell": "lstm", "units": 200, "num_layers": 1, "bidirectional": True, "dropout": 0.5,
                "branches": 1},
    # aux_field: a second CoNLL-U tag field (e.g. xpos for a UPOS tagger) predicted by an extra
    # softmax head in training only, its loss weighted by aux_weight (multi-task, as Stanza and
    # UDPipe tag UPOS and XPOS jointly); the model still outputs the main tags only.
    "head": {"type": "crf", "dropout": 0.5, "aux_field": None, "aux_weight": 0.5},
    "training": {
        "epochs": 30,
        "batch_size": 32,
        "optimizer": "adam",  # adam | sgd | nadam
        "learning_rate": 0.001,
        "global_clipnorm": 5.0,
        "patience": 5,
        # Learning-rate factor after an epoch without a dev gain (None: a constant rate).
        "lr_decay": None,
        "bucket_width": 5,
        "shuffle_buffer": 20000,
        "mixed_precision": False,
        # Threads TensorFlow gives one op (None: all cores); 1 trains taggers faster on a
        # few cores, where their many small ops lose more to splitting than they gain.
        "intra_op_threads": 1,
        # Batches per graph call (Keras' steps_per_execution): at most this many, the largest
        # count that divides an epoch's batches. Fewer calls, less per-step Python; the
        # progress bar moves in such steps. One under a distribution strategy.
        "steps_per_execution": 16,
        "distribution": None,  # None | mirrored
        "drop_remainder": None,  # drop short last batches; None: only under a distribution strategy
        # Ship the mean of the last N epochs' weights when it beats the best epoch on dev (0/1: off).
        "average_last": 0,
        # Start from a trained tagger directory: its vocabularies, and its weights wherever this
        # model has a variable of the same name and shape (e.g. a second branch added beside a
        # trained one with encoder.branches: 2).
        "init_from": None,
        # Top-level layers not trained, e.g. [word_embedding, char_embedding, casing_embedding,
        # encoder, tag_head, crf] to train only a new branch over a trained tagger's features.
        "freeze": [],
        "max_steps_per_epoch": None,  # for quick tests
    },
    # How the model directory stores the weights: float16 halves its size (the test scores in
    # metrics.json are then measured with the rounded weights); int8 also stores the word table,
    # most of a tagger, as int8 codes with a step per row. Computation stays float32.
    "export": {"weights_dtype": "float32"},  # float32 | float16 | int8
}

LM_DEFAULTS = {
    "task": "lm",
    "seed": 1,
    # Plain text, one sentence per line; `train` may list several files. `reverse: true` trains a
    # right-to-left model (the backward half of the tagger's `features.lm`).
    "data": {"train": None, "dev": None, "test": None, "reverse": False},
    "tokenizer": {
        "type": "word",  # word (whitespace tokens) | sentencepiece
        "lowercase": False,
        "min_freq": 1,
        "max_size": None,
        "vocab_size": 8000,  # sentencepiece only
        "model_type": "unigram",  # sentencepiece only: unigram | bpe | char (vocab_size is then a maximum)
    },
    "model": {
        "cell": "lstm",  # lstm | gru | simple
        "embedding_dim": 256,
        "units": 256,  # per layer; a list gives one size per layer
        "num_layers": 2,
        "tie_weights": True,
        "embedding_dropout": 0.1,  # word types dropped per batch
        "input_dropout": 0.3,  # variational, on the embeddings
        "dropout": 0.3,  # variational, between layers
        "output_dropout": 0.4,  # variational, before the softmax
        "weight_drop": 0.0,  # DropConnect on the hidden-to-hidden matrices (AWD-LSTM)
    },
    "training": {
        "epochs": 40,
        "batch_size": 32,  # rows of the training stream
        "bptt": 35,  # window length of truncated backpropagation
        "optimizer": "adam",  # adam | sgd | nadam
        "learning_rate": 0.002,
        # The loss is a per-token mean, so this norm is per token too; SGD recipes that sum
        # over the window need their rate and clip scaled by the window length.
        "global_clipnorm": 0.25,
        "lr_decay": 0.5,  # learning rate factor after an epoch without dev improvement
        "decay_start": None,  # from this epoch on, decay after every epoch (a fixed schedule)
        "patience": 4,  # epochs without dev improvement before stopping
        "eval_batch_size": 10,  # rows when scoring dev/test perplexity
        "jit_compile": True,  # XLA-compile the train step (bench/lm_speed.py compares it with plain graphs)
        # Ship the mean of the last N epochs' weights when it beats the best epoch on dev (0/1: off).
        "average_last": 0,
        # Threads TensorFlow gives one op (None: all cores). A character LM's small steps gain
        # little from a second core, so two runs with 1 each (forward and backward) train faster.
        "intra_op_threads": None,
        "max_steps_per_epoch": None,  # for quick tests
    },
    # How the model directory stores the weights: float16 halves its size (the scores in
    # metrics.json are then measured with the rounded weights); computation stays float32.
    "export": {"weights_dtype": "float32"},  # float32 | float16
}

TRANSLATION_DEFAULTS = {
    "task": "translation",
    "seed": 1,
    "data": {
        # Line-aligned source/target files (plain or .gz).
        "train_source": None, "train_target": None,
        "dev_source": None, "dev_target": None,
        "test_source": None, "test_target": None,
        "max_source_length": 80,  # training pairs longer than this (in tokens) are skipped
        "max_target_length": 80,
    },
    "tokenizer": {
        "type": "sentencepiece",  # sentencepiece | word
        "joint": False,  # one vocabulary for both languages (needed for model.share_embeddings)
        "vocab_size": 8000,  # per language (or joint)
        "model_type": "unigram",  # unigram | bpe
        "lowercase": False,  # word tokenizer only
        "min_freq": 1,  # word tokenizer only
    },
    "model": {
        "cell": "lstm",  # lstm | gru
        "embedding_dim": 256,
        "encoder_units": 256,  # per direction
        "encoder_layers": 1,
        "decoder_units": 512,
        "decoder_layers": 1,
        "attention": "general",  # dot | general (Luong) | bahdanau (additive)
        "dropout": 0.3,
        "label_smoothing": 0.1,
        "tie_embeddings": False,  # target embeddings shared with the output layer
        "share_embeddings": False,  # one table for source and target (needs tokenizer.joint)
    },
    "training": {
        "epochs": 20,
        "batch_size": 64,
        "bucket_width": 5,
        "optimizer": "adam",
        "learning_rate": 0.001,
        "global_clipnorm": 5.0,
        "lr_decay": 0.5,  # learning rate factor after an epoch without dev improvement
        "decay_start": None,  # from this epoch on, decay after every epoch
        "patience": 4,
        "early_stopping": "bleu",  # bleu (greedy dev BLEU) | loss (dev cross-entropy)
        "jit_compile": False,
        # Ship the mean of the last N epochs' weights when it beats the best epoch on dev (0/1: off).
        "average_last": 0,
        "max_steps_per_epoch": None,  # for quick tests
    },
    "decoding": {
        "beam_size": 5,
        "length_penalty": 0.6,  # GNMT alpha
        "max_length_ratio": 2.0,  # output tokens per source token ...
        "max_length_offset": 10,  # ... plus this many
    },
}

DEFAULTS = {"ner": TAGGER_DEFAULTS, "pos": TAGGER_DEFAULTS, "lm": LM_DEFAULTS, "translation": TRANSLATION_DEFAULTS}


def _merge(base, override, where=""):
    """Returns `base` updated by `override`, rejecting keys `base` does not have."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        path = f"{where}{key}"
        if key not in out:
            known = ", ".join(sorted(out))
            raise ConfigError(f"unknown config key '{path}' (known here: {known})")
        if isinstance(out[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"config key '{path}' must be a mapping, got {value!r}")
            out[key] = _merge(out[key], value, path + ".")
        else:
            out[key] = value
    return out


class _ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but `1e-4` is a float (YAML 1.1 reads it as a string without a dot)."""


# A private copy of the resolver table: adding to the inherited one would change yaml.SafeLoader too.
_ConfigLoader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


def _load(text):
    """Parses YAML text with `_ConfigLoader` (safe: plain data only)."""
    return yaml.load(text, Loader=_ConfigLoader)


def parse_override(text):
    """Turns `a.b.c=value` into the nested dict {"a": {"b": {"c": value}}}.

    Args:
        text: one override; the value is parsed as YAML, so `3`, `0.5`, `1e-4`,
            `true`, `null` and `[1, 2]` get their natural types.

    Returns:
        A nested dict holding the one value.
    """
    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like key.subkey=value")
    key, raw = text.split("=", 1)
    try:
        value = _load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    tree = value
    for part in reversed(key.strip().split(".")):
        if not part:
            raise ConfigError(f"override '{text}' has an empty key part")
        tree = {part: tree}
    return tree


def load_yaml(path):
    """Reads a YAML config file into a dict, with a one-line error for bad files."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = _load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: invalid YAML ({getattr(err, 'problem', err)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping at the top level")
    return data


def resolve_config(task, config_path=None, overrides=()):
    """Builds the effective config of a task.

    Args:
        task: the task name (`ner`, `pos`, ...); picks the defaults.
        config_path: optional YAML file overriding the defaults. Relative data
            paths in it are read relative to the current directory.
        overrides: `key.sub=value` strings applied last.

    Returns:
        The merged config dict, with `task` set.
    """
    if task not in DEFAULTS:
        raise ConfigError(f"unknown task '{task}' (choose from {', '.join(sorted(DEFAULTS))})")
    config = copy.deepcopy(DEFAULTS[task])
    config["task"] = task
    if config_path is not None:
        config = _merge(config, load_yaml(config_path))
    for text in overrides:
        config = _merge(config, parse_override(text))
    if config["task"] != task:
        raise ConfigError(f"config says task '{config['task']}' but the command trains '{task}'")
    return config


def get(config, dotted, default=None):
    """Reads `a.b.c` from a nested config dict, returning `default` when absent."""
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def save_config(config, path):
    """Writes the config as YAML (temp file + rename, so a crash never leaves half a file)."""
    path = Path(path)
    atomic_files.write_text(path, yaml.safe_dump(config, sort_keys=False))
