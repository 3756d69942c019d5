"""Tagger speed on CoNLL-2003: nlpseq training and inference next to a PyTorch nn.LSTM reference.

Training (tokens/s = non-padding tokens per second of wall time, after a warm-up):

- nlpseq `SequenceTagger` (words only, softmax head; and the same with a CRF head),
  trained with `model.fit` on `nlpseq.data.pipelines` length-bucketed batches;
- PyTorch Embedding + bidirectional `nn.LSTM` + Linear + masked cross-entropy on
  the very same batches (same sentences, same bucketing), once with
  `pack_padded_sequence` and once plain padded.

Every variant gets the same config: 5k most frequent words, embedding 100,
BiLSTM 128 per direction, batch 32, dropout 0.5 on the embeddings and before
the output layer, Adam (lr 1e-3, global gradient-norm clip 5). The variants
are measured in interleaved rounds (A B C D, A B C D, ...) and the median
round is reported, so a noisy machine does not favour one side.

Inference: `nlpseq.Tagger.tag_batch` sentences/s on the CoNLL-2003 test split
(pre-split token lists, and the same sentences as raw text) through an exported
model directory, for several call sizes: `ITEMS:TOKENS` is at most ITEMS
sentences and TOKENS padded words per graph call (`batch_size` / `max_tokens`;
TOKENS 0 = no word budget, i.e. the fixed chunks of earlier versions). It uses `saved_models/ner-conll2003` when it exists; otherwise it
trains a throwaway model for a few steps with the task config (same
architecture, untrained weights: speed does not depend on them).

Run from the repository root:

    python bench/tagger_speed.py                 # full run (~5 minutes on 2 cores)
    python bench/tagger_speed.py --quick         # smoke run (~1 minute)

It prints a markdown table and writes the figures as JSON (`--json`).
torch is the optional `bench` extra (`pip install .[bench]`, CPU wheel).
"""

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = Path(os.environ.get("NLPSEQ_DATA", ROOT.parent / "shared" / "data")) / "conll2003"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Figures: training tokens/s (median of --rounds interleaved rounds) for nlpseq softmax, "
               "nlpseq CRF, torch packed and torch padded; the ratio nlpseq softmax / faster torch; "
               "tag_batch sentences/s per call size.",
    )
    parser.add_argument("--train", default=str(DATA / "eng.train"), help="CoNLL-2003 training file")
    parser.add_argument("--test", default=str(DATA / "eng.testb"), help="CoNLL-2003 test file (inference)")
    parser.add_argument("--model-dir", default=str(ROOT / "saved_models" / "ner-conll2003"),
                        help="exported tagger for inference; a throwaway one is trained if it is missing")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved measurement rounds (median reported)")
    parser.add_argument("--steps", type=int, default=150, help="timed training batches per variant and round")
    parser.add_argument("--warmup", type=int, default=30, help="untimed training batches per variant first")
    parser.add_argument("--tag-settings", default="1024:4096,64:0,256:0,1024:2048,1024:8192",
                        help="tag_batch call sizes ITEMS:TOKENS (batch_size:max_tokens, 0 = no word budget), "
                             "comma-separated; the first is also timed on raw text")
    parser.add_argument("--variants", default="softmax,crf,unfused,torch-packed,torch-padded",
                        help="training variants to run (unfused = nlpseq softmax with the fused CPU LSTM of "
                             "nlpseq.layers.rnn_encoder turned off: the standard Keras path)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: cores)")
    parser.add_argument("--intra-op-threads", type=int, default=None,
                        help="TensorFlow threads per op for the nlpseq variants (default: the taggers' "
                             "training.intra_op_threads, as `nlpseq train` sets it; 0: TensorFlow's default)")
    parser.add_argument("--steps-per-execution", type=int, default=None,
                        help="at most this many batches per graph call for the nlpseq variants, reduced to a "
                             "divisor of --warmup and --steps as `nlpseq train` reduces it to a divisor of the "
                             "epoch (default: the taggers' training.steps_per_execution)")
    parser.add_argument("--skip-inference", action="store_true", help="measure training only")
    parser.add_argument("--skip-training", action="store_true", help="measure inference only")
    parser.add_argument("--compare-model-dir", help="a second exported tagger timed in the same inference rounds "
                                                    "(e.g. the same model exported by an older nlpseq)")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "tagger_speed.json"),
                        help="where to write the figures")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 round, 20 timed steps, 5 warm-up steps, one tag setting")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.steps, args.warmup, args.tag_settings = 1, 20, 5, "1024:4096"
    try:
        args.tag_settings = [tuple(int(n) for n in item.split(":")) for item in args.tag_settings.split(",") if item]
        assert all(len(t) == 2 and t[0] > 0 and t[1] >= 0 for t in args.tag_settings)
    except (ValueError, AssertionError):
        parser.error(f"--tag-settings wants ITEMS:TOKENS pairs such as 1024:4096, got {args.tag_settings!r}")
    args.variants = [] if args.skip_training else [v for v in args.variants.split(",") if v]
    unknown = set(args.variants) - {"softmax", "crf", "unfused", "torch-packed", "torch-padded"}
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    return args


# --------------------------------------------------------------------------- data

def load_corpus(path):
    """Reads the training file and encodes it with a 5k-word vocabulary (words only).

    Returns:
        (features, encoded, n_sentences): the TaggingFeatures, the cached
        unbatched dataset of `nlpseq.data.pipelines.encoded_dataset`, and the
        number of sentences.
    """
    from nlpseq.data.features import TaggingFeatures
    from nlpseq.data.pipelines import encoded_dataset
    from nlpseq.readers import read_conll

    sentences = read_conll(path)
    tags = sorted({t for s in sentences for t in s.tags})
    features = TaggingFeatures.build([s.words for s in sentences], tags, max_size=5000,
                                     use_chars=False, use_casing=False)
    examples = [features.encode(s.words) for s in sentences]
    targets = [features.encode_tags(s.tags) for s in sentences]
    return features, encoded_dataset(examples, targets), len(sentences)


def epoch_batches(encoded, seed, steps):
    """The first `steps` length-bucketed batches of 32 of an epoch shuffled with `seed`.

    Returns:
        (dataset, batches): the `tf.data.Dataset` nlpseq's `fit` reads, and the
        same batches (same order; the pipeline is deterministic) as numpy
        (words, tags) pairs for torch and for counting tokens.
    """
    from nlpseq.data.pipelines import bucketed_batches

    dataset = bucketed_batches(encoded, 32, bucket_width=5, shuffle_seed=seed).take(steps)
    return dataset, [(x["words"].numpy(), y.numpy()) for x, y in dataset]


# --------------------------------------------------------------------------- nlpseq

class BatchClock:
    """A fit callback that timestamps the end of every batch."""

    def __init__(self):
        import keras

        class _Clock(keras.callbacks.Callback):
            def __init__(inner):
                super().__init__()
                inner.stamps = []

            def on_train_batch_end(inner, batch, logs=None):
                inner.stamps.append(time.perf_counter())

        self.callback = _Clock()

    @property
    def stamps(self):
        return self.callback.stamps


class NlpseqRunner:
    """Trains a words-only SequenceTagger with `fit`, one slice of batches at a time."""

    def __init__(self, head, features, fused=True, steps_per_execution=1):
        import keras

        from nlpseq.layers import rnn_encoder
        from nlpseq.models.tagger import SequenceTagger
        from nlpseq.training import optimizers

        self.fused = fused
        self.steps_per_execution = steps_per_execution
        self.rnn_encoder = rnn_encoder
        keras.utils.set_random_seed(1)
        self.model = SequenceTagger(
            word_vocab_size=len(features.words), num_tags=len(features.tags), word_dim=100,
            char_vocab_size=0, casing_dim=0, units=128, feature_dropout=0.5, encoder_dropout=0.0,
            head=head, head_dropout=0.5,
        )
        # The optimizer `nlpseq train` uses (Keras' Adam with a fused TensorFlow update).
        self.model.compile(optimizer=optimizers.Adam(1e-3, global_clipnorm=5.0),
                           steps_per_execution=steps_per_execution)

    def run(self, dataset, batches):
        """Trains on `dataset`; returns (tokens of batches 2..n, seconds between their ends)."""
        # The switch is read when fit traces its train step (the first calls of this runner).
        self.rnn_encoder.FUSED_CPU_LSTM = self.fused
        clock = BatchClock()
        self.model.fit(dataset, epochs=1, steps_per_epoch=len(batches), verbose=0, callbacks=[clock.callback])
        self.rnn_encoder.FUSED_CPU_LSTM = True
        # The first batch (or execution of steps_per_execution batches) of a fit call pays
        # for the iterator and fit's setup: time from its end.
        tokens = sum(int(np.count_nonzero(w)) for w, _ in batches[self.steps_per_execution:])
        return tokens, clock.stamps[-1] - clock.stamps[0]


# --------------------------------------------------------------------------- torch

class TorchRunner:
    """The PyTorch reference: Embedding + BiLSTM + Linear, masked cross-entropy, Adam."""

    def __init__(self, packed, vocab_size, num_tags, threads):
        import torch

        torch.set_num_threads(threads)
        torch.manual_seed(1)
        self.torch = torch
        self.packed = packed
        nn = torch.nn
        self.embedding = nn.Embedding(vocab_size, 100, padding_idx=0)
        self.lstm = nn.LSTM(100, 128, batch_first=True, bidirectional=True)
        self.output = nn.Linear(256, num_tags)
        self.dropout = nn.Dropout(0.5)
        self.params = [p for m in (self.embedding, self.lstm, self.output) for p in m.parameters()]
        self.optimizer = torch.optim.Adam(self.params, lr=1e-3)

    def step(self, words, tags, lengths):
        torch = self.torch
        mask = words != 0
        x = self.dropout(self.embedding(words))
        if self.packed:
            packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.lstm(packed)
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=words.shape[1])
        else:
            out, _ = self.lstm(x)
        logits = self.output(self.dropout(out))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tags.reshape(-1),
                                                 reduction="none")
        loss = (loss * mask.reshape(-1)).sum() / mask.sum()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 5.0)
        self.optimizer.step()

    def run(self, dataset, batches):
        """Trains on `batches`; returns (tokens of batches 2..n, seconds for them), like NlpseqRunner."""
        torch = self.torch
        batches = [(torch.from_numpy(w).long(), torch.from_numpy(t).long(), torch.from_numpy((w != 0).sum(1)))
                   for w, t in batches]
        stamps = []
        for words, tags, lengths in batches:
            self.step(words, tags, lengths)
            stamps.append(time.perf_counter())
        tokens = sum(int(n.sum()) for _, _, n in batches[1:])
        return tokens, stamps[-1] - stamps[0]


def serve(connection, handle):
    """Child side of a `ChildProcess`: reports ready, then answers each job with `handle(job)` until None."""
    connection.send("ready")
    while True:
        job = connection.recv()
        if job is None:
            return
        connection.send(handle(job))


class ChildProcess:
    """A runner in its own (spawned) process, which waits while the others run.

    TensorFlow's and PyTorch's thread pools in one process compete for the
    same 2 cores (an idle-spinning pool slows the other side's barriers), and
    some settings can only be chosen before TensorFlow starts; so each torch
    variant (and each setting of `bench/tagger_settings.py`) runs in a child.

    Args:
        worker: a module-level function `worker(connection, *args)` that builds
            its runner and calls `serve`.
        *args: the worker's arguments (picklable).
    """

    def __init__(self, worker, *args):
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=worker, args=(child, *args), daemon=True)
        self.process.start()
        self.connection.recv()

    def call(self, job):
        """Sends one job; returns the child's answer."""
        self.connection.send(job)
        return self.connection.recv()

    def close(self):
        self.connection.send(None)
        self.process.join(timeout=30)


def _torch_worker(connection, packed, vocab_size, num_tags, threads):
    runner = TorchRunner(packed, vocab_size, num_tags, threads)
    serve(connection, lambda batches: runner.run(None, batches))


class TorchProcess(ChildProcess):
    """A TorchRunner in its own process (see `ChildProcess`), with the runners' `run`."""

    def __init__(self, *args):
        super().__init__(_torch_worker, *args)

    def run(self, dataset, batches):
        return self.call(batches)


# --------------------------------------------------------------------------- inference

def throwaway_model_dir(train_path, workdir):
    """Trains the task config's tagger for a few steps and exports it (speed does not need accuracy)."""
    from nlpseq.training.config import resolve_config
    from nlpseq.training.tagging import train_tagger

    task_yaml = ROOT / "tasks" / "ner" / "conll2003.yaml"
    overrides = [f"data.train={train_path}", "data.dev=null", "data.test=null", "data.scheme=IOB1",
                 "features.word.pretrained=null", "training.epochs=1", "training.max_steps_per_epoch=10"]
    config = resolve_config("ner", task_yaml if task_yaml.exists() else None, overrides)
    out = Path(workdir) / "ner-throwaway"
    train_tagger(config, out, work_dir=Path(workdir) / "run", verbose=0)
    return out


def setting_label(items, tokens):
    return f"{items} items / {tokens} words" if tokens else f"{items} items (no word budget)"


def measure_inference(model_dir, test_path, settings, rounds, compare_dir=None):
    """tag_batch sentences/s per (batch_size, max_tokens) setting, median of `rounds`
    interleaved rounds; the first setting is also timed on the sentences as raw text.
    With `compare_dir`, a second exported model (e.g. one exported by an older nlpseq)
    is timed in the same rounds, each setting labelled `... [compare]`."""
    from nlpseq import Tagger
    from nlpseq.api.tagger import _length_chunks
    from nlpseq.readers import read_conll

    sentences = [list(s.words) for s in read_conll(test_path)]
    texts = [" ".join(words) for words in sentences]
    taggers = [("", Tagger.load(model_dir))]
    if compare_dir:
        taggers.append((" [compare]", Tagger.load(compare_dir)))
    runs = []
    for suffix, tagger in taggers:
        tagger.tag_batch(sentences[:1024])  # warm-up
        tagger.tag_batch(texts[:1024])
        runs += [(setting_label(*s) + suffix, tagger, sentences, s) for s in settings]
        runs.append((setting_label(*settings[0]) + ", raw text" + suffix, tagger, texts, settings[0]))
    rates = {label: [] for label, _, _, _ in runs}
    for batch_size, max_tokens in settings:
        chunks = list(_length_chunks(list(enumerate(sentences)), len, batch_size, max_tokens or 10**9))
        steps = sum(len(chunk[0][1]) for chunk in chunks)  # a call's loops run over its longest item
        print(f"{setting_label(batch_size, max_tokens)}: {len(chunks)} graph calls, {steps} time steps", flush=True)
    for _ in range(rounds):
        for label, tagger, items, (batch_size, max_tokens) in runs:
            start = time.perf_counter()
            tagger.tag_batch(items, batch_size=batch_size, max_tokens=max_tokens or 10**9)
            rates[label].append(len(items) / (time.perf_counter() - start))
    return len(sentences), {k: statistics.median(r) for k, r in rates.items()}, rates


# --------------------------------------------------------------------------- main

LABELS = {
    "softmax": "nlpseq softmax",
    "crf": "nlpseq CRF",
    "unfused": "nlpseq softmax, fused CPU LSTM off",
    "torch-packed": "torch nn.LSTM packed",
    "torch-padded": "torch nn.LSTM padded",
}


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from nlpseq.training.config import TAGGER_DEFAULTS
    from nlpseq.training.tagging import steps_per_execution
    from nlpseq.training.threads import set_intra_op_threads

    # Before TensorFlow starts, as `nlpseq train` does for a tagger.
    if args.intra_op_threads is None:
        args.intra_op_threads = TAGGER_DEFAULTS["training"]["intra_op_threads"] or 0
    if args.steps_per_execution is None:
        args.steps_per_execution = TAGGER_DEFAULTS["training"]["steps_per_execution"]
    set_intra_op_threads(args.intra_op_threads or None)

    started = time.time()
    load_before = os.getloadavg()[0]
    wants_torch = any(v.startswith("torch") for v in args.variants)
    if wants_torch:
        import torch  # here only for its version; the torch variants run in child processes
    features, encoded, n_sentences = load_corpus(args.train)
    # Each round is the start of a new epoch (its own shuffle); every variant trains on the same batches.
    warmup = epoch_batches(encoded, 1000, args.warmup)
    epochs = [epoch_batches(encoded, 1001 + r, args.steps) for r in range(args.rounds)]
    tokens = [np.count_nonzero(w) for _, batches in epochs for w, _ in batches]
    print(f"{n_sentences} training sentences, {len(features.words)} words, {len(features.tags)} tags; "
          f"{args.rounds} x {args.steps} timed batches of 32 per variant, {np.mean(tokens):.0f} tokens per batch",
          flush=True)

    # Batches per graph call as `nlpseq train` picks them: at most the taggers' default, a divisor
    # of every fit call's batch count here (warm-up and rounds).
    per_call = steps_per_execution(math.gcd(args.warmup, args.steps), args.steps_per_execution)
    runners = {}
    for v in args.variants:
        if v in ("softmax", "crf", "unfused"):
            runners[v] = NlpseqRunner("crf" if v == "crf" else "softmax", features, fused=v != "unfused",
                                      steps_per_execution=per_call)
        else:
            runners[v] = TorchProcess(v == "torch-packed", len(features.words), len(features.tags), args.threads)
    for v, runner in runners.items():
        runner.run(*warmup)
    rates = {v: [] for v in runners}
    for r, epoch in enumerate(epochs):
        for v, runner in runners.items():
            n_tokens, seconds = runner.run(*epoch)
            rates[v].append(n_tokens / seconds)
        print(f"round {r + 1}: " + ", ".join(f"{v} {rates[v][-1]:,.0f}" for v in runners), flush=True)
    training = {v: statistics.median(r) for v, r in rates.items()}
    for runner in runners.values():
        if isinstance(runner, TorchProcess):
            runner.close()

    torch_best = max((training[v] for v in training if v.startswith("torch")), default=None)
    ratio = training["softmax"] / torch_best if torch_best and "softmax" in training else None

    inference = None
    if not args.skip_inference:
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = Path(args.model_dir)
            source = str(model_dir)
            if not (model_dir / "saved_model").exists():
                print(f"{model_dir} not found: training a throwaway model for the inference figures", flush=True)
                model_dir = throwaway_model_dir(args.train, tmp)
                source = "throwaway model (task config, 10 training steps)"
            n_test, medians, all_rates = measure_inference(model_dir, args.test, args.tag_settings, args.rounds,
                                                           args.compare_model_dir)
        inference = {"model": source, "compare_model": args.compare_model_dir, "sentences": n_test,
                     "sentences_per_s": medians, "rounds": all_rates}

    command = "python bench/tagger_speed.py " + " ".join(sys.argv[1:] if argv is None else argv)
    report = {
        "date": datetime.date.today().isoformat(),
        "command": command.strip(),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version(), "tensorflow": tf.__version__,
                    "keras": keras.__version__, "torch": torch.__version__ if wants_torch else None},
        "config": {"vocab": len(features.words), "embedding": 100, "units": 128, "batch_size": 32,
                   "rounds": args.rounds, "steps": args.steps, "warmup": args.warmup,
                   "intra_op_threads": args.intra_op_threads or "TensorFlow default",
                   "steps_per_execution": per_call if runners else None},
        "training_tokens_per_s": training,
        "training_rounds": rates,
        "ratio_nlpseq_softmax_to_faster_torch": ratio,
        "inference": inference,
        "wall_seconds": round(time.time() - started, 1),
        "load_average_1min": {"start": load_before, "end": os.getloadavg()[0]},
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")

    print()
    print("| training (batch 32) | tokens/s |")
    print("|---|---:|")
    for v, rate in training.items():
        print(f"| {LABELS[v]} | {rate:,.0f} |")
    if ratio is not None:
        print(f"| ratio nlpseq softmax / faster torch | {ratio:.2f}x |")
    if inference:
        print()
        print(f"| tag_batch ({inference['sentences']} test sentences) | sentences/s |")
        print("|---|---:|")
        for label, rate in inference["sentences_per_s"].items():
            print(f"| {label} | {rate:,.0f} |")
    busy = max(load_before, os.getloadavg()[0])
    if busy > 0.5 * (os.cpu_count() or 1):
        print(f"\nWARNING: 1-minute load average reached {busy:.1f} on {os.cpu_count()} cores: other processes "
              "ran beside the benchmark, so these figures are distorted (torch's OpenMP threads suffer most).")
    print(f"\nfigures written to {args.json}")
    return report


if __name__ == "__main__":
    main()
