"""Training a sequence tagger (NER, POS) from a resolved config."""

import collections
import contextlib
import json
from pathlib import Path

import keras
import numpy as np

from nlpseq import atomic_files
from nlpseq.checks import is_whole_number
from nlpseq.data.features import TaggingFeatures
from nlpseq.data.pipelines import count_bucketed_batches, encoded_dataset, epoch_batches
from nlpseq.data.sources import load_sentences
from nlpseq.data.vectors import embedding_matrix, read_word_vectors
from nlpseq.errors import ConfigError
from nlpseq.models.tagger import tagger_from_config
from nlpseq.readers.schemes import convert_tags
from nlpseq.training.callbacks import EpochMonitor, EpochSeeds
from nlpseq.training.config import save_config
from nlpseq.training.evaluation import main_metric, predict_tags, score_tagging
from nlpseq.training.lm_features import FeatureLanguageModels, cache_lm_states
from nlpseq.training.optimizers import OPTIMIZERS
from nlpseq.training.run import TrainingRun
from nlpseq.training.threads import set_intra_op_threads
from nlpseq.training.warm_start import (
    check_start_dir,
    copy_tagger_weights,
    freeze_layers,
)


def _split_specs(data, split):
    """The dataset specs of one split: its config value, a spec or a list of them."""
    specs = data[split] or []
    # A split may list several files (e.g. train + dev for a final model).
    return [specs] if isinstance(specs, str) else list(specs)


def read_split(config, split):
    """Reads one data split of a tagging config into sentences in the model's tag scheme.

    Args:
        config: the resolved config.
        split: `train`, `dev` or `test`; its config value is a file, a
            `tfds:` spec, or a list of them (read one after the other).

    Returns:
        list of (words, tags) pairs; empty when the split is not configured.
    """
    data = config["data"]
    sentences = [
        sentence
        for spec in _split_specs(data, split)
        for sentence in load_sentences(spec, format=data["format"], tag_column=data["tag_column"],
                                       tag_field=data["tag_field"], scheme=data["scheme"])
    ]
    pairs = []
    for s in sentences:
        tags = list(s.tags)
        if config["task"] == "ner" and data["scheme"]:
            tags = convert_tags(tags, data["scheme"], data["model_scheme"])
        pairs.append((list(s.words), tags))
    return pairs


def read_aux_tags(config, split):
    """The auxiliary tags (`head.aux_field`) of one split, sentence by sentence, or None when off.

    They are read from the same CoNLL-U files as the main tags, so sentence i
    of this list belongs to sentence i of `read_split`.
    """
    field = config["head"].get("aux_field")
    if not field:
        return None
    data = config["data"]
    if data["format"] != "conllu":
        raise ConfigError(f"head.aux_field needs CoNLL-U data (data.format: conllu), not {data['format']!r}")
    if field == data["tag_field"]:
        raise ConfigError(f"head.aux_field '{field}' is already the main tag field (data.tag_field)")
    return [list(s.tags) for spec in _split_specs(data, split)
            for s in load_sentences(spec, format="conllu", tag_field=field)]


def _aux_tags_path(work_dir):
    return Path(work_dir) / "features" / "aux_tags.json"


def save_aux_tags(work_dir, tags):
    """Keeps the auxiliary tag list beside the run's vocabularies (a resumed run needs the same ids)."""
    atomic_files.write_text(_aux_tags_path(work_dir), json.dumps(tags))


def load_aux_tags(work_dir):
    """The auxiliary tag list a run saved, or [] when it had none."""
    path = _aux_tags_path(work_dir)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


def build_features(config, train, lms=None):
    """Fits the vocabularies on the training split (and adds pretrained words).

    Args:
        config: the resolved config.
        train: the training (words, tags) pairs.
        lms: the `FeatureLanguageModels` of `features.lm`, or None.

    Returns:
        (features, pretrained): the TaggingFeatures and, when vectors are
        configured, the (words, vectors) pair read from the file.
    """
    word_cfg, char_cfg = config["features"]["word"], config["features"]["char"]
    tag_counts = collections.Counter(t for _, tags in train for t in tags)
    # Frequent tags first; stable across runs because ties sort by name.
    tags = sorted(tag_counts, key=lambda t: (-tag_counts[t], t))
    features = TaggingFeatures.build(
        [w for w, _ in train], tags,
        min_freq=word_cfg["min_freq"], max_size=word_cfg["max_size"],
        lowercase=word_cfg["lowercase"], normalize_digits=word_cfg["normalize_digits"],
        use_chars=char_cfg["type"] not in (None, "none"), max_word_len=char_cfg["max_word_len"],
        use_casing=bool(config["features"]["casing"]["dim"]),
        subword_type=config["features"]["subword"]["type"],
        subword_vocab_size=config["features"]["subword"]["vocab_size"],
        char_boundaries=bool(char_cfg["boundaries"]),
        lm_pieces=lms.tokenizer if lms else None,
    )
    pretrained = None
    if word_cfg["pretrained"]:
        words, vectors = read_word_vectors(word_cfg["pretrained"])
        # Words that have a vector but are rare or absent in the training data
        # still get their pretrained vector: that is most of the gain on test.
        extra = [features.words.normalize(w) for w in words[: word_cfg["pretrained_max_words"]]]
        features.words.extend(extra)
        pretrained = (words, vectors)
    return features, pretrained


def _encode(features, pairs):
    # Tags come from the training data itself, so every tag has an id.
    return [features.encode(words) for words, _ in pairs], [features.encode_tags(tags) for _, tags in pairs]


def _singleton_mask(features, train):
    counts = collections.Counter(features.words.normalize(w) for words, _ in train for w in words)
    mask = np.zeros(len(features.words), bool)
    for token, count in counts.items():
        if count == 1 and token in features.words:
            mask[features.words.token_to_id(token)] = True
    return mask


def _strategy(config):
    kind = config["training"]["distribution"]
    if kind in (None, "none"):
        return None
    if kind != "mirrored":
        raise ConfigError(f"unknown training.distribution '{kind}' (choose none or mirrored)")
    import tensorflow as tf

    return tf.distribute.MirroredStrategy()


def build_model(config, features, aux_tags=0, lms=None):
    """Builds (uncompiled) the tagger of a config, sized by its features' vocabularies.

    Args:
        config: the resolved config.
        features: the run's `TaggingFeatures`.
        aux_tags: size of the auxiliary tag set (`head.aux_field`), 0 for none.
        lms: the `FeatureLanguageModels` of `features.lm` (their weights are
            copied in), or None.
    """
    model = tagger_from_config(
        config, len(features.words), len(features.chars) if features.chars else 0, len(features.tags),
        subword_vocab_size=features.subwords.vocab_size if features.subwords else 0, aux_tags=aux_tags,
        lm_specs=lms.specs() if lms else (),
    )
    model({k: v[None] for k, v in features.encode(["a"]).items()})
    if lms:
        lms.copy_into(model)
    return model


def steps_per_execution(steps_per_epoch, most):
    """Batches per graph call: the largest divisor of the epoch's batch count up to `most`.

    Why a divisor: Keras 3 rounds an epoch up to whole calls, which would read
    the next epoch's batches from the one stream `epoch_batches` makes.

    Args:
        steps_per_epoch: batches per epoch.
        most: `training.steps_per_execution` (a positive integer).

    Returns:
        The count to pass to `compile(steps_per_execution=...)`.
    """
    if not is_whole_number(most):
        raise ConfigError(f"training.steps_per_execution must be a positive integer, got {most!r}")
    return max([1] + [n for n in range(2, min(most, steps_per_epoch) + 1) if steps_per_epoch % n == 0])


def build_compiled_model(config, features, pretrained=None, aux_tags=0, steps_per_call=1, lms=None):
    """Builds and compiles the tagger of a config (inside a distribution scope if configured).

    `steps_per_call` is Keras' `steps_per_execution` (see `steps_per_execution`);
    `lms` the `FeatureLanguageModels` of `features.lm` or None.
    """
    tcfg = config["training"]
    if tcfg["mixed_precision"]:
        keras.mixed_precision.set_global_policy("mixed_float16")
    if tcfg["optimizer"] not in OPTIMIZERS:
        raise ConfigError(f"unknown training.optimizer '{tcfg['optimizer']}' (choose {', '.join(OPTIMIZERS)})")
    model = build_model(config, features, aux_tags, lms)
    freeze_layers(model, tcfg["freeze"])
    if pretrained is not None:
        matrix, found = embedding_matrix(features.words, *pretrained, config["features"]["word"]["dim"], seed=config["seed"])
        model.word_embedding.set_pretrained(matrix)
        print(f"pretrained vectors: {found} of {len(features.words)} vocabulary entries initialised")
    optimizer = OPTIMIZERS[tcfg["optimizer"]](
        learning_rate=tcfg["learning_rate"], global_clipnorm=tcfg["global_clipnorm"]
    )
    model.compile(optimizer=optimizer, steps_per_execution=steps_per_call)
    return model


def train_tagger(config, output_dir, work_dir=None, resume=False, verbose=1, command=None):
    """Trains a tagger end to end and writes its model directory.

    Args:
        config: the resolved config (`nlpseq.training.config.resolve_config`).
        output_dir: the model directory to write (replaced atomically at the end).
        work_dir: checkpoints and TensorBoard logs; default `runs/<output name>`.
        resume: continue from the last checkpoint in `work_dir`.
        verbose: Keras fit verbosity (1 = progress bar).
        command: the command line to record in the model card (default: this
            process's).

    Returns:
        The metrics dict that is also saved as `metrics.json`.
    """
    from nlpseq.export.model_dir import write_tagger_dir

    set_intra_op_threads(config["training"]["intra_op_threads"])  # first: before TensorFlow starts
    run = TrainingRun(config, output_dir, work_dir, resume, command)
    task, tcfg, work_dir = config["task"], config["training"], run.work_dir
    train, dev, test = (read_split(config, s) for s in ("train", "dev", "test"))
    if not train:
        raise ConfigError("data.train is not set")
    aux_train = read_aux_tags(config, "train")
    lms = FeatureLanguageModels.load(config["features"]["lm"])
    if run.resume:
        # The vocabularies of the interrupted run, so ids match its weights.
        features = TaggingFeatures.load(work_dir / "features")
        aux_tags = load_aux_tags(work_dir)
        pretrained = None
    else:
        if tcfg["init_from"]:
            # The trained tagger's vocabularies, so its weights mean the same ids here.
            features, pretrained = TaggingFeatures.load(check_start_dir(tcfg["init_from"]) / "assets"), None
        else:
            features, pretrained = build_features(config, train, lms)
        features.save(work_dir / "features")
        aux_tags = sorted({t for tags in aux_train for t in tags}) if aux_train else []
        save_aux_tags(work_dir, aux_tags)
        save_config(config, work_dir / "config.yaml")
    print(f"{task}: {len(train)} train / {len(dev)} dev / {len(test)} test sentences; "
          f"{len(features.words)} words, {len(features.tags)} tags")

    strategy = _strategy(config)
    drop_remainder = tcfg["drop_remainder"]
    if drop_remainder is None:
        # Replicas of a strategy must not receive empty shards of a short batch.
        drop_remainder = strategy is not None
    bucketing = {"bucket_width": tcfg["bucket_width"], "drop_remainder": drop_remainder}
    steps = count_bucketed_batches([len(w) for w, _ in train], tcfg["batch_size"], **bucketing)
    if tcfg["max_steps_per_epoch"]:
        steps = min(steps, tcfg["max_steps_per_epoch"])
    per_call = steps_per_execution(steps, tcfg["steps_per_execution"])
    if strategy is not None:
        # Keras 3's multi-step loop fails on a distributed iterator (`has_next` in a cond);
        # the setting is checked above, then one batch per call.
        per_call = 1
    scope = strategy.scope() if strategy else contextlib.nullcontext()
    with scope:
        model = build_compiled_model(config, features, pretrained, aux_tags=len(aux_tags), steps_per_call=per_call,
                                     lms=lms)
    if tcfg["init_from"] and not run.resume:
        copied, total = copy_tagger_weights(model, tcfg["init_from"])
        print(f"initialised {copied} of {total} weights from {tcfg['init_from']}")
    examples, targets = _encode(features, train)
    dev_encoded = None
    if lms:
        print("language-model states of the training and dev sentences (computed once: the models are frozen)")
        cache_lm_states(model, examples)
        dev_encoded = cache_lm_states(model, [features.encode(w) for w, _ in dev]) if dev else None
    if aux_tags:
        # The auxiliary targets ride in the input dict, where `compute_loss` finds them.
        aux_ids = {t: i for i, t in enumerate(aux_tags)}
        for example, tags in zip(examples, aux_train):
            example["aux_tags"] = np.array([aux_ids.get(t, 0) for t in tags], np.int32)
        print(f"auxiliary head: {len(aux_tags)} {config['head']['aux_field']} tags, "
              f"loss weight {config['head']['aux_weight']}")
    train_ds = encoded_dataset(examples, targets)
    metric = main_metric(task)
    run.restore(model)
    state = run.state

    if not dev:
        metric = "neg_train_loss"  # without a dev set, stop on the training loss

    def dev_score(logs):
        if not dev:
            return -float(logs["loss"])
        predicted = predict_tags(model, features, [w for w, _ in dev], encoded=dev_encoded)
        return score_tagging(task, [t for _, t in dev], predicted, config["data"]["model_scheme"])[metric]

    monitor = EpochMonitor(dev_score, metric, run.checkpoints, state, tcfg["patience"],
                           lr_decay=tcfg["lr_decay"], keep_epochs=tcfg["average_last"])
    if run.epochs_left():
        batches = epoch_batches(
            train_ds, state["epoch"], tcfg["epochs"], tcfg["batch_size"], seed=config["seed"],
            max_batches=tcfg["max_steps_per_epoch"], shuffle_buffer=tcfg["shuffle_buffer"],
            unk_replace=config["features"]["word"]["unk_replace"],
            singleton_mask=_singleton_mask(features, train), **bucketing,
        )
        # The monitor goes first: it adds the dev metric to the logs the others see.
        callbacks = [EpochSeeds(config["seed"]), monitor, keras.callbacks.TensorBoard(log_dir=str(work_dir / "logs"))]
        model.fit(batches, epochs=tcfg["epochs"], initial_epoch=state["epoch"], steps_per_epoch=steps,
                  verbose=verbose, callbacks=callbacks, shuffle=False)

    averaging = run.select_final_weights(model, dev_score if dev else None, metric)
    metrics = run.metrics(task, metric, **averaging)
    run.round_for_storage(model, metrics, metric, dev_score if dev else None)  # before scoring test
    if test:
        predicted = predict_tags(model, features, [w for w, _ in test])
        scores = score_tagging(task, [t for _, t in test], predicted, config["data"]["model_scheme"])
        metrics.update({f"test_{k}": v for k, v in scores.items() if k != "report"})
        if "report" in scores:
            print(scores["report"])
    print(json.dumps(metrics))
    write_tagger_dir(output_dir, model, features, config, metrics, wall_seconds=run.wall_seconds)
    return metrics

