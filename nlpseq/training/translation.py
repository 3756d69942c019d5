"""Training an attentional seq2seq translation model (`nlpseq train translation`)."""

import json

import keras
import numpy as np

from nlpseq.data.parallel import count_translation_batches, encode_pairs, translation_epochs
from nlpseq.errors import ConfigError
from nlpseq.models.seq2seq import Seq2SeqModel
from nlpseq.readers.parallel import read_parallel
from nlpseq.tokenizers.text_encoder import TextEncoder
from nlpseq.training.callbacks import EpochMonitor, EpochSeeds
from nlpseq.training.config import save_config
from nlpseq.training.run import TrainingRun


class TranslationEncoders:
    """The source and target `TextEncoder`s of a model (the same object twice for a joint vocabulary)."""

    def __init__(self, source, target):
        self.source = source
        self.target = target

    def save(self, directory):
        """Writes `source.*` and `target.*` into `directory`."""
        self.source.save(directory, "source")
        self.target.save(directory, "target")

    @classmethod
    def load(cls, directory):
        return cls(TextEncoder.load(directory, "source"), TextEncoder.load(directory, "target"))


def read_split(config, split):
    """The (source, target) pairs of a split, or [] when the config names no files for it."""
    data = config["data"]
    source, target = data[f"{split}_source"], data[f"{split}_target"]
    if source is None and target is None:
        return []
    if source is None or target is None:
        raise ConfigError(f"data.{split}_source and data.{split}_target must be given together")
    return read_parallel(source, target)


def build_encoders(config, pairs):
    """Trains the source and target vocabularies (or one joint vocabulary) on the training pairs."""
    tok = config["tokenizer"]
    options = dict(kind=tok["type"], vocab_size=tok["vocab_size"], model_type=tok["model_type"],
                   lowercase=tok["lowercase"], min_freq=tok["min_freq"], seed=config["seed"])
    if tok["joint"]:
        joint = TextEncoder.build([s for s, _ in pairs] + [t for _, t in pairs], **options)
        return TranslationEncoders(joint, joint)
    return TranslationEncoders(TextEncoder.build([s for s, _ in pairs], **options),
                               TextEncoder.build([t for _, t in pairs], **options))


def build_seq2seq(config, encoders):
    """The (built, uncompiled) seq2seq model of a config."""
    m = config["model"]
    if m["share_embeddings"] and encoders.source is not encoders.target:
        raise ConfigError("model.share_embeddings needs tokenizer.joint: true")
    model = Seq2SeqModel(encoders.source.vocab_size, encoders.target.vocab_size, embedding_dim=m["embedding_dim"],
                         encoder_units=m["encoder_units"], encoder_layers=m["encoder_layers"],
                         decoder_units=m["decoder_units"], decoder_layers=m["decoder_layers"], cell=m["cell"],
                         attention=m["attention"], dropout=m["dropout"], label_smoothing=m["label_smoothing"],
                         tie_embeddings=m["tie_embeddings"], share_embeddings=m["share_embeddings"])
    model({"source": np.ones((1, 2), "int32"), "target_in": np.ones((1, 2), "int32")})
    return model


def translate_lines(module, texts, beam_size=1, length_penalty=0.0, batch_size=64):
    """Translations of `texts` through a `TranslatorModule` (greedy when beam_size is 1), in input order."""
    import tensorflow as tf

    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = [None] * len(texts)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        batch = tf.constant([texts[i] for i in chunk])
        if beam_size == 1:
            result = module.translate_greedy(batch)
        else:
            result = module.translate(batch, tf.constant(beam_size), tf.constant(float(length_penalty)))
        for i, text in zip(chunk, result["translations"].numpy()):
            out[i] = text.decode("utf-8")
    return out


def _filter_lengths(sources, targets, data):
    keep = [i for i, (s, t) in enumerate(zip(sources, targets))
            if (data["max_source_length"] is None or len(s) <= data["max_source_length"])
            and (data["max_target_length"] is None or len(t) <= data["max_target_length"])]
    return [sources[i] for i in keep], [targets[i] for i in keep], len(sources) - len(keep)


def train_translation(config, output_dir, work_dir=None, resume=False, verbose=1, command=None):
    """Trains a translation model end to end and writes its model directory.

    Args:
        config: the resolved `translation` config.
        output_dir: the model directory to write (replaced atomically at the end).
        work_dir: checkpoints and TensorBoard logs; default `runs/<output name>`.
        resume: continue from the last checkpoint in `work_dir`.
        verbose: Keras fit verbosity (1 = progress bar).
        command: the command line for the model card (default: this process's).

    Returns:
        The metrics dict that is also saved as `metrics.json`.
    """
    from nlpseq.export.model_dir import write_translation_dir
    from nlpseq.export.translation_saved_model import TranslatorModule
    from nlpseq.metrics.translation import translation_scores

    run = TrainingRun(config, output_dir, work_dir, resume, command)
    tcfg, dcfg, work_dir = config["training"], config["decoding"], run.work_dir
    if tcfg["early_stopping"] not in ("bleu", "loss"):
        raise ConfigError(f"training.early_stopping must be bleu or loss, got {tcfg['early_stopping']!r}")
    train, dev, test = (read_split(config, s) for s in ("train", "dev", "test"))
    if not train:
        raise ConfigError("data.train_source and data.train_target are not set")
    if run.resume:
        encoders = TranslationEncoders.load(work_dir / "assets")  # the interrupted run's ids
    else:
        encoders = build_encoders(config, train)
        encoders.save(work_dir / "assets")
        save_config(config, work_dir / "config.yaml")
    sources, targets, dropped = _filter_lengths(*encode_pairs(train, encoders.source, encoders.target),
                                                config["data"])
    print(f"translation: {len(sources)} train pairs ({dropped} longer than the length limits skipped) / "
          f"{len(dev)} dev / {len(test)} test; vocabularies {encoders.source.vocab_size} source, "
          f"{encoders.target.vocab_size} target ({config['tokenizer']['type']}"
          f"{', joint' if config['tokenizer']['joint'] else ''})")

    model = build_seq2seq(config, encoders)
    model.compile(optimizer=run.optimizer(), jit_compile=tcfg["jit_compile"])
    print(f"parameters: {model.count_params():,}")
    limits = {"max_length_ratio": dcfg["max_length_ratio"], "max_length_offset": dcfg["max_length_offset"]}
    translator = None
    if keras.backend.backend() == "tensorflow":
        translator = TranslatorModule(model, encoders.source, encoders.target, **limits)
    elif tcfg["early_stopping"] == "bleu":
        # Decoding runs in TensorFlow graphs; other backends stop on the dev loss and leave
        # BLEU to `nlpseq export` + `nlpseq evaluate` on the TensorFlow backend.
        print(f"note: early stopping on dev loss (BLEU needs the TensorFlow backend, not {keras.backend.backend()})")
        tcfg = {**tcfg, "early_stopping": "loss"}

    run.restore(model)
    state = run.state

    dev_sources, dev_targets = encode_pairs(dev, encoders.source, encoders.target) if dev else ([], [])
    bucketing = {"bucket_width": tcfg["bucket_width"]}

    def dev_score(logs):
        if not dev:
            return float(logs["loss"])
        if tcfg["early_stopping"] == "bleu":
            hypotheses = translate_lines(translator, [s for s, _ in dev])
            return translation_scores(hypotheses, [t for _, t in dev])["bleu"]
        batches = translation_epochs(dev_sources, dev_targets, 0, 1, tcfg["batch_size"],
                                     bos_id=encoders.target.bos_id, eos_id=encoders.target.eos_id,
                                     seed=config["seed"], **bucketing)
        dev_steps = count_translation_batches(dev_sources, dev_targets, tcfg["batch_size"], **bucketing)
        return float(model.evaluate(batches, steps=dev_steps, verbose=0))

    higher_is_better = tcfg["early_stopping"] == "bleu" and bool(dev)
    metric = "bleu" if higher_is_better else "loss"
    monitor = EpochMonitor(dev_score, metric, run.checkpoints, state, tcfg["patience"],
                           higher_is_better=higher_is_better, lr_decay=tcfg["lr_decay"],
                           decay_start=tcfg["decay_start"], keep_epochs=tcfg["average_last"])
    steps = count_translation_batches(sources, targets, tcfg["batch_size"], **bucketing)
    if tcfg["max_steps_per_epoch"]:
        steps = min(steps, tcfg["max_steps_per_epoch"])
    if run.epochs_left():
        batches = translation_epochs(sources, targets, state["epoch"], tcfg["epochs"], tcfg["batch_size"],
                                     bos_id=encoders.target.bos_id, eos_id=encoders.target.eos_id,
                                     seed=config["seed"], max_batches=tcfg["max_steps_per_epoch"], **bucketing)
        callbacks = [EpochSeeds(config["seed"]), monitor,
                     keras.callbacks.TensorBoard(log_dir=str(work_dir / "logs"))]
        model.fit(batches, epochs=tcfg["epochs"], initial_epoch=state["epoch"], steps_per_epoch=steps,
                  verbose=verbose, callbacks=callbacks, shuffle=False)

    averaging = run.select_final_weights(model, dev_score if dev else None, metric, higher_is_better)
    metrics = run.metrics("translation", metric, parameters=int(model.count_params()), **averaging)
    if test and translator is not None:
        hypotheses = translate_lines(translator, [s for s, _ in test], dcfg["beam_size"], dcfg["length_penalty"])
        scores = translation_scores(hypotheses, [t for _, t in test])
        metrics.update(test_bleu=scores["bleu"], test_chrf=scores["chrf"], test_sentences=len(test),
                       bleu_signature=scores["bleu_signature"], chrf_signature=scores["chrf_signature"])
    print(json.dumps(metrics))
    write_translation_dir(output_dir, model, encoders, config, metrics, wall_seconds=run.wall_seconds)
    return metrics
