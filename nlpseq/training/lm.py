"""Training a recurrent language model with truncated BPTT (`nlpseq train lm`)."""

import json

import keras
import numpy as np

from nlpseq.data.lm_stream import stream_windows
from nlpseq.errors import ConfigError, DataError
from nlpseq.models.language_model import RNNLanguageModel
from nlpseq.readers.text import read_text_lines
from nlpseq.tokenizers.text_encoder import TextEncoder
from nlpseq.training.callbacks import EpochMonitor, EpochSeeds
from nlpseq.training.config import save_config
from nlpseq.training.perplexity import perplexity, stream_log_likelihood
from nlpseq.training.run import TrainingRun
from nlpseq.training.threads import set_intra_op_threads
from nlpseq.training.tbptt import ResetStates, StreamTrainer


def read_corpus(path):
    """The non-blank lines of a plain or gzipped text file (one sentence each).

    Args:
        path: a file, a list of files (read in order, as one corpus), or None.

    Returns:
        list of stripped, non-empty lines (empty for None).
    """
    if path is None:
        return []
    if isinstance(path, (list, tuple)):
        return [line for p in path for line in read_corpus(p)]
    lines = [line.strip() for line in read_text_lines(path)]
    return [line for line in lines if line]


def encode_stream(encoder, lines, reverse=False):
    """One stream of ids: an end-of-sentence id first (the context of the first word), then
    each line's ids followed by an end-of-sentence id (the PTB convention: one `<eos>` per line).

    Args:
        encoder: a `TextEncoder`.
        lines: strings.
        reverse: return the stream backwards, for a right-to-left language model
            (`data.reverse`). It still starts and ends with an end-of-sentence id,
            and each line is read from its last token to its first.

    Returns:
        int32 array of length 1 + sum(len(ids) + 1).
    """
    eos = encoder.eos_id
    ids = [eos]
    for line in lines:
        ids.extend(encoder.encode(line))
        ids.append(eos)
    ids = np.asarray(ids, np.int32)
    return ids[::-1].copy() if reverse else ids


def build_encoder(config, lines):
    """The text encoder of a config, built from the training lines."""
    tok = config["tokenizer"]
    return TextEncoder.build(lines, kind=tok["type"], min_freq=tok["min_freq"], max_size=tok["max_size"],
                             lowercase=tok["lowercase"], vocab_size=tok["vocab_size"],
                             model_type=tok["model_type"], seed=config["seed"])


def build_lm(config, vocab_size):
    """The (built, uncompiled) language model of a config."""
    m = config["model"]
    lm = RNNLanguageModel(vocab_size, embedding_dim=m["embedding_dim"], units=m["units"],
                          num_layers=m["num_layers"], cell=m["cell"], tie_weights=m["tie_weights"],
                          embedding_dropout=m["embedding_dropout"], input_dropout=m["input_dropout"],
                          dropout=m["dropout"], output_dropout=m["output_dropout"], weight_drop=m["weight_drop"])
    lm(np.ones((1, 1), "int32"))
    return lm


def word_count(lines):
    """Words plus one end of sentence per line: the denominator of word-level perplexity."""
    return sum(TextEncoder.count_words(line) + 1 for line in lines)


def score_lines(lm, encoder, lines, batch_size, bptt, reverse=False):
    """Perplexity figures of a language model on a list of lines.

    Args:
        lm: the `RNNLanguageModel`.
        encoder: its `TextEncoder`.
        lines: the text, one sentence per line.
        batch_size, bptt: rows and window length of the scoring stream.
        reverse: score right to left (a model trained with `data.reverse`).

    Returns:
        dict with `perplexity` (per word: whitespace words plus one `<eos>` per
        line, the PTB convention), `tokens` (that word count), and for subword
        encoders also `token_perplexity` and `subword_tokens`.
    """
    nll, tokens = stream_log_likelihood(lm, encode_stream(encoder, lines, reverse), batch_size, bptt)
    words = word_count(lines)
    scores = {"perplexity": perplexity(nll, words), "tokens": words}
    if encoder.kind != "word":
        scores.update(token_perplexity=perplexity(nll, tokens), subword_tokens=tokens)
    return scores


def train_lm(config, output_dir, work_dir=None, resume=False, verbose=1, command=None):
    """Trains a language model end to end and writes its model directory.

    Args:
        config: the resolved `lm` config.
        output_dir: the model directory to write (replaced atomically at the end).
        work_dir: checkpoints and TensorBoard logs; default `runs/<output name>`.
        resume: continue from the last checkpoint in `work_dir`.
        verbose: Keras fit verbosity (1 = progress bar).
        command: the command line for the model card (default: this process's).

    Returns:
        The metrics dict that is also saved as `metrics.json`.
    """
    from nlpseq.export.model_dir import write_lm_dir

    set_intra_op_threads(config["training"]["intra_op_threads"])  # first: before TensorFlow starts
    run = TrainingRun(config, output_dir, work_dir, resume, command)
    tcfg, work_dir = config["training"], run.work_dir
    if not config["data"]["train"]:
        raise ConfigError("data.train is not set")
    train, dev, test = (read_corpus(config["data"][s]) for s in ("train", "dev", "test"))
    if run.resume:
        encoder = TextEncoder.load(work_dir / "assets")  # the interrupted run's ids
    else:
        encoder = build_encoder(config, train)
        encoder.save(work_dir / "assets")
        save_config(config, work_dir / "config.yaml")
    reverse = bool(config["data"]["reverse"])
    train_ids = encode_stream(encoder, train, reverse)
    batch_size, bptt = tcfg["batch_size"], tcfg["bptt"]
    if len(train_ids) - 1 < batch_size * 2:
        raise DataError(config["data"]["train"], None,
                        f"{len(train_ids) - 1} tokens are too few for {batch_size} rows; lower training.batch_size")
    print(f"lm: {len(train)} train / {len(dev)} dev / {len(test)} test lines; {len(train_ids) - 1} train tokens; "
          f"vocabulary {encoder.vocab_size} ({encoder.kind}){'; right to left' if reverse else ''}")

    lm = build_lm(config, encoder.vocab_size)
    trainer = StreamTrainer(lm, batch_size)
    trainer.compile(optimizer=run.optimizer(), jit_compile=tcfg["jit_compile"])
    trainer(np.ones((batch_size, 1), "int32"))
    print(f"parameters: {lm.count_params():,}")
    run.restore(trainer)
    state = run.state

    def dev_perplexity(logs):
        if not dev:
            return float(np.exp(logs["loss"]))
        return score_lines(lm, encoder, dev, tcfg["eval_batch_size"], bptt, reverse)["perplexity"]

    windows, steps = stream_windows(train_ids, batch_size, bptt)
    if tcfg["max_steps_per_epoch"]:
        steps = min(steps, tcfg["max_steps_per_epoch"])
    monitor = EpochMonitor(dev_perplexity, "perplexity", run.checkpoints, state, tcfg["patience"],
                           higher_is_better=False, lr_decay=tcfg["lr_decay"],
                           decay_start=tcfg["decay_start"], keep_epochs=tcfg["average_last"])
    if run.epochs_left():
        # Every epoch reads the same windows in the same order, from a zeroed state.
        batches = windows.take(steps).repeat()
        callbacks = [ResetStates(), EpochSeeds(config["seed"]), monitor, keras.callbacks.TensorBoard(log_dir=str(work_dir / "logs"))]
        trainer.fit(batches, epochs=tcfg["epochs"], initial_epoch=state["epoch"], steps_per_epoch=steps,
                    verbose=verbose, callbacks=callbacks, shuffle=False)

    averaging = run.select_final_weights(trainer, dev_perplexity if dev else None, "perplexity",
                                         higher_is_better=False)
    metrics = run.metrics("lm", "perplexity", parameters=int(lm.count_params()), **averaging)
    run.round_for_storage(lm, metrics, "perplexity", dev_perplexity if dev else None)  # before scoring test
    if test:
        scores = score_lines(lm, encoder, test, tcfg["eval_batch_size"], bptt, reverse)
        metrics.update({f"test_{k}": v for k, v in scores.items()})
    print(json.dumps(metrics))
    write_lm_dir(output_dir, lm, encoder, config, metrics, wall_seconds=run.wall_seconds)
    return metrics
