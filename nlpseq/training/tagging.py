"""Training a sequence tagger (NER, POS) from a resolved config."""

import collections
import contextlib
import json
import time
from pathlib import Path

import keras
import numpy as np

from nlpseq.data.features import TaggingFeatures
from nlpseq.data.pipelines import bucketed_batches, count_bucketed_batches, encoded_dataset
from nlpseq.data.sources import load_sentences
from nlpseq.data.vectors import embedding_matrix, read_word_vectors
from nlpseq.errors import ConfigError, DataError
from nlpseq.models.tagger import tagger_from_config
from nlpseq.readers.schemes import convert_tags
from nlpseq.training.checkpoints import CheckpointManager
from nlpseq.training.evaluation import main_metric, predict_tags, score_tagging

OPTIMIZERS = {"adam": keras.optimizers.Adam, "nadam": keras.optimizers.Nadam, "sgd": keras.optimizers.SGD}


def read_split(config, split):
    """Reads one data split of a tagging config into sentences in the model's tag scheme.

    Args:
        config: the resolved config.
        split: `train`, `dev` or `test`.

    Returns:
        list of (words, tags) pairs; empty when the split is not configured.
    """
    data = config["data"]
    spec = data[split]
    if not spec:
        return []
    sentences = load_sentences(
        spec, format=data["format"], tag_column=data["tag_column"],
        tag_field=data["tag_field"], scheme=data["scheme"],
    )
    pairs = []
    for s in sentences:
        tags = list(s.tags)
        if config["task"] == "ner" and data["scheme"]:
            tags = convert_tags(tags, data["scheme"], data["model_scheme"])
        pairs.append((list(s.words), tags))
    return pairs


def build_features(config, train):
    """Fits the vocabularies on the training split (and adds pretrained words).

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


def _encode(features, pairs, where):
    examples, targets = [], []
    for i, (words, tags) in enumerate(pairs):
        examples.append(features.encode(words))
        try:
            targets.append(features.encode_tags(tags))
        except KeyError as err:
            raise DataError(where, None, f"sentence {i + 1} has tag {err} that is not in the training data") from None
    return examples, targets


def _singleton_ids(features, train):
    counts = collections.Counter(features.words.normalize(w) for words, _ in train for w in words)
    return np.asarray(sorted(features.words.token_to_id(t) for t, c in counts.items() if c == 1 and t in features.words), np.int32)


def _strategy(config):
    kind = config["training"]["distribution"]
    if kind in (None, "none"):
        return None
    if kind != "mirrored":
        raise ConfigError(f"unknown training.distribution '{kind}' (choose none or mirrored)")
    import tensorflow as tf

    return tf.distribute.MirroredStrategy()


def build_compiled_model(config, features, pretrained=None):
    """Builds and compiles the tagger of a config (inside a distribution scope if configured)."""
    tcfg = config["training"]
    if tcfg["mixed_precision"]:
        keras.mixed_precision.set_global_policy("mixed_float16")
    if tcfg["optimizer"] not in OPTIMIZERS:
        raise ConfigError(f"unknown training.optimizer '{tcfg['optimizer']}' (choose {', '.join(OPTIMIZERS)})")
    model = tagger_from_config(
        config, len(features.words), len(features.chars) if features.chars else 0, len(features.tags)
    )
    dummy = features.encode(["a"])
    model({k: v[None] for k, v in dummy.items()})
    if pretrained is not None:
        matrix, found = embedding_matrix(features.words, *pretrained, config["features"]["word"]["dim"], seed=config["seed"])
        model.word_embedding.set_pretrained(matrix)
        print(f"pretrained vectors: {found} of {len(features.words)} vocabulary entries initialised")
    optimizer = OPTIMIZERS[tcfg["optimizer"]](
        learning_rate=tcfg["learning_rate"], global_clipnorm=tcfg["global_clipnorm"]
    )
    model.compile(optimizer=optimizer)
    return model


def train_tagger(config, output_dir, work_dir=None, resume=False, verbose=1):
    """Trains a tagger end to end and writes its model directory.

    Args:
        config: the resolved config (`nlpseq.training.config.resolve_config`).
        output_dir: the model directory to write (replaced atomically at the end).
        work_dir: checkpoints and TensorBoard logs; default `runs/<output name>`.
        resume: continue from the last checkpoint in `work_dir`.
        verbose: Keras fit verbosity (1 = progress bar).

    Returns:
        The metrics dict that is also saved as `metrics.json`.
    """
    from nlpseq.export.model_dir import write_tagger_dir

    keras.utils.set_random_seed(config["seed"])
    task, tcfg = config["task"], config["training"]
    work_dir = Path(work_dir or Path("runs") / Path(output_dir).name)
    checkpoints = CheckpointManager(work_dir / "checkpoints")
    if resume and not checkpoints.has_checkpoint():
        raise ConfigError(f"--resume: no checkpoint in {checkpoints.directory}")

    started = time.time()
    train, dev, test = (read_split(config, s) for s in ("train", "dev", "test"))
    if not train:
        raise ConfigError("data.train is not set")
    if resume:
        # The vocabularies of the interrupted run, so ids match its weights.
        features = TaggingFeatures.load(work_dir / "features")
        pretrained = None
    else:
        features, pretrained = build_features(config, train)
        features.save(work_dir / "features")
    print(f"{task}: {len(train)} train / {len(dev)} dev / {len(test)} test sentences; "
          f"{len(features.words)} words, {len(features.tags)} tags")

    strategy = _strategy(config)
    scope = strategy.scope() if strategy else contextlib.nullcontext()
    with scope:
        model = build_compiled_model(config, features, pretrained)
    examples, targets = _encode(features, train, config["data"]["train"])
    train_ds = encoded_dataset(examples, targets)
    singletons = _singleton_ids(features, train)
    num_batches = count_bucketed_batches([len(w) for w, _ in train], tcfg["batch_size"], bucket_width=tcfg["bucket_width"])
    metric = main_metric(task)

    state = {"epoch": 0, "best": None, "best_epoch": None, "wait": 0, "history": [], "seconds": 0.0}
    if resume:
        checkpoints.restore_last(model)
        state = checkpoints.load_state()
        print(f"resumed after epoch {state['epoch']} (best dev {metric} {state['best']})")
    tensorboard = keras.callbacks.TensorBoard(log_dir=str(work_dir / "logs"))

    for epoch in range(state["epoch"], tcfg["epochs"]):
        if state["wait"] >= tcfg["patience"]:
            break
        epoch_start = time.time()
        seed = config["seed"] * 1000 + epoch
        batches = bucketed_batches(
            train_ds, tcfg["batch_size"], bucket_width=tcfg["bucket_width"], shuffle_seed=seed,
            shuffle_buffer=tcfg["shuffle_buffer"], unk_replace=config["features"]["word"]["unk_replace"],
            singleton_ids=singletons, unk_seed=seed, num_batches=num_batches,
        )
        if tcfg["max_steps_per_epoch"]:
            batches = batches.take(tcfg["max_steps_per_epoch"])
        history = model.fit(batches, epochs=epoch + 1, initial_epoch=epoch, verbose=verbose, callbacks=[tensorboard],
                            shuffle=False)
        loss = float(history.history["loss"][-1])
        if dev:
            predicted = predict_tags(model, features, [w for w, _ in dev])
            dev_score = score_tagging(task, [t for _, t in dev], predicted, config["data"]["model_scheme"])[metric]
        else:
            dev_score = -loss
        improved = state["best"] is None or dev_score > state["best"]
        if improved:
            state.update(best=dev_score, best_epoch=epoch + 1, wait=0)
            checkpoints.save_best(model)
        else:
            state["wait"] += 1
        seconds = time.time() - epoch_start
        state["seconds"] += seconds
        state["history"].append({"epoch": epoch + 1, "loss": loss, f"dev_{metric}": dev_score, "seconds": round(seconds, 1)})
        state["epoch"] = epoch + 1
        checkpoints.save(model, state)
        print(f"epoch {epoch + 1}: loss {loss:.4f}  dev {metric} {dev_score:.4f}"
              f"{'  (best)' if improved else ''}  {seconds:.0f}s", flush=True)

    checkpoints.restore_best(model)
    metrics = {"task": task, "best_epoch": state["best_epoch"], "epochs_run": state["epoch"],
               "train_seconds": round(state["seconds"], 1), f"dev_{metric}": state["best"]}
    for name, split in (("test", test),):
        if split:
            predicted = predict_tags(model, features, [w for w, _ in split])
            scores = score_tagging(task, [t for _, t in split], predicted, config["data"]["model_scheme"])
            metrics.update({f"{name}_{k}": v for k, v in scores.items() if k != "report"})
            if "report" in scores:
                print(scores["report"])
    print(json.dumps(metrics))
    write_tagger_dir(output_dir, model, features, config, metrics, wall_seconds=time.time() - started)
    return metrics

