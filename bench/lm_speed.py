"""Language-model speed: truncated-BPTT training tokens/s, and generation tokens/s against a naive decoder.

Training: `StreamTrainer.fit` on consecutive PTB windows with the model and
batch settings of a task config (default `tasks/lm/ptb.yaml`), once with the
train step XLA-compiled (`training.jit_compile: true`, the default) and once
without, in interleaved rounds; tokens/s = batch_size x bptt x steps / seconds.

Generation: new tokens per second (batch x new tokens / seconds of a call) for
sampling (top-p 0.9) and beam search (beam 5), at batch 1 and 32, with
nlpseq's decoder (`nlpseq.export.lm_saved_model.LMGenerator`: the prompt is read
once, then the recurrent state is carried and one token is fed per step) and
with a naive decoder that re-runs the model over the whole prefix at every step.
The naive one drives the very same `nlpseq.decoding` loop (sampling or beam
search), with a step function whose "state" is the prefix itself, so the ratio
isolates the cost of re-reading the prefix. `<eos>` is banned in both, so every
row generates exactly `--new-tokens` tokens. Each figure is the median of
`--rounds` interleaved rounds after a warm-up call.

It uses the model directory `--model-dir` (default `saved_models/lm-ptb`) when it
exists; otherwise a model with the config's architecture and untrained
weights (speed does not depend on the weights).

Run from the repository root:

    python bench/lm_speed.py                # full run (a few minutes on 2 cores)
    python bench/lm_speed.py --quick        # smoke run

It prints markdown tables and writes the figures as JSON (`--json`).
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "tasks" / "lm" / "ptb.yaml"), help="LM task config")
    parser.add_argument("--model-dir", default=str(ROOT / "saved_models" / "lm-ptb"), help="trained LM directory")
    parser.add_argument("--train-steps", type=int, default=40, help="training steps per variant and round")
    parser.add_argument("--new-tokens", type=int, default=50, help="tokens generated per row")
    parser.add_argument("--prompt", default="the company said", help="prompt of every row")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median reported)")
    parser.add_argument("--quick", action="store_true", help="few steps, one round (smoke run)")
    parser.add_argument("--skip-training", action="store_true", help="only the generation figures")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "lm_speed.json"), help="JSON output")
    args = parser.parse_args(argv)
    if args.quick:
        args.train_steps, args.new_tokens, args.rounds = 8, 12, 1
    return args


def load_model(args, config):
    """(lm, encoder, where it came from): the trained model directory, or untrained weights."""
    import keras

    import nlpseq.models  # noqa: F401  (registers the model class)
    from nlpseq.tokenizers.text_encoder import TextEncoder
    from nlpseq.training.lm import build_encoder, build_lm, read_corpus

    model_dir = Path(args.model_dir)
    if (model_dir / "model.keras").is_file():
        lm = keras.models.load_model(model_dir / "model.keras", compile=False)
        return lm, TextEncoder.load(model_dir / "assets"), str(model_dir)
    encoder = build_encoder(config, read_corpus(config["data"]["train"]))
    return build_lm(config, encoder.vocab_size), encoder, "untrained weights (no model directory)"


# --- training -----------------------------------------------------------------------------
def training_runners(config, encoder):
    """One `run(steps) -> tokens/s` per variant (XLA on / off), each with its own model."""
    import keras

    from nlpseq.data.lm_stream import stream_windows
    from nlpseq.training.lm import build_lm, encode_stream, read_corpus
    from nlpseq.training.tbptt import StreamTrainer

    t = config["training"]
    ids = encode_stream(encoder, read_corpus(config["data"]["train"]))
    windows, _ = stream_windows(ids, t["batch_size"], t["bptt"])
    runners = {}
    for name, jit in (("XLA on", True), ("XLA off", False)):
        keras.utils.set_random_seed(1)
        trainer = StreamTrainer(build_lm(config, encoder.vocab_size), t["batch_size"])
        trainer.compile(optimizer=keras.optimizers.Adam(t["learning_rate"], global_clipnorm=t["global_clipnorm"]),
                        jit_compile=jit)
        iterator = iter(windows.repeat())
        full = [next(iterator) for _ in range(3)]  # warm-up: traces (and compiles) the step
        trainer.fit(_dataset(full), verbose=0)

        def run(steps, trainer=trainer, iterator=iterator):
            batches = [next(iterator) for _ in range(steps)]
            start = time.perf_counter()
            trainer.fit(_dataset(batches), verbose=0)
            return t["batch_size"] * t["bptt"] * steps / (time.perf_counter() - start)

        runners[name] = run
    return runners


def _dataset(batches):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(tuple(np.stack([b[i].numpy() for b in batches]) for i in range(3)))


# --- generation ---------------------------------------------------------------------------
def generation_functions(lm, encoder, new_tokens, prompt):
    """{(decoder, strategy): fn(batch) -> new tokens/s} for nlpseq's decoder and the naive one."""
    import tensorflow as tf

    from nlpseq.decoding import beam_search, sample
    from nlpseq.export.lm_saved_model import LMGenerator

    generator = LMGenerator(lm, encoder)
    banned = np.asarray(generator.penalty.numpy())
    banned[encoder.eos_id] = -1e9  # fixed-length rows: every call generates batch x new_tokens tokens
    generator.penalty = tf.constant(banned)
    steps = tf.constant(new_tokens, tf.int32)
    prompt_ids = [encoder.eos_id] + encoder.encode(prompt)
    width = len(prompt_ids) + new_tokens

    def naive_start(batch):
        """The prefix buffer holding the prompt but its last token, and that token to feed first."""
        buffer = np.zeros((batch, width), np.int32)
        buffer[:, :len(prompt_ids) - 1] = prompt_ids[:-1]
        length = np.full((batch, 1), len(prompt_ids) - 1, np.int32)
        return tf.constant(np.full(batch, prompt_ids[-1], np.int32)), (tf.constant(buffer), tf.constant(length))

    def naive_step(ids, state, constants=()):
        # Rows advance in lockstep, so one length serves the whole batch.
        buffer, length = state
        n = length[0, 0]
        buffer = tf.where(tf.range(width)[None, :] == n, ids[:, None], buffer)
        logits, _ = lm.forward(buffer[:, :n + 1], None, training=False)
        return tf.cast(logits[:, -1], tf.float32) + generator.penalty, (buffer, length + 1)

    @tf.function(reduce_retracing=True)
    def naive_sample(start, state):
        return sample(naive_step, start, state, max_new_tokens=steps, eos_id=encoder.eos_id, strategy="sample",
                      top_p=0.9, seed=1)[0]

    @tf.function(reduce_retracing=True)
    def naive_beam(start, state):
        return beam_search(naive_step, start, state, beam_size=5, max_new_tokens=steps, eos_id=encoder.eos_id)[0]

    def timed(call, batch):
        start = time.perf_counter()
        out = call()
        np.asarray(out)  # wait for the result
        return batch * new_tokens / (time.perf_counter() - start)

    def carried(strategy):
        def run(batch):
            prompts = tf.constant([prompt] * batch)
            if strategy == "sample":
                call = lambda: generator.generate_sample(prompts, steps, 1.0, 0, 0.9, 1)["ids"]  # noqa: E731
            else:
                call = lambda: generator.generate_beam(prompts, steps, 5, 0.0)["ids"]  # noqa: E731
            return timed(call, batch)
        return run

    def naive(strategy):
        fn = naive_sample if strategy == "sample" else naive_beam

        def run(batch):
            start, state = naive_start(batch)
            return timed(lambda: fn(start, state), batch)
        return run

    return {("nlpseq (state carried)", s): carried(s) for s in ("sample", "beam")} | {
        ("naive (prefix re-run)", s): naive(s) for s in ("sample", "beam")}


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    from nlpseq.training.config import resolve_config

    os.chdir(ROOT)  # the config's data paths are relative to the repository root
    config = resolve_config("lm", args.config)
    lm, encoder, source = load_model(args, config)
    print(f"model: {source}; {lm.count_params():,} parameters")
    report = {"date": datetime.date.today().isoformat(), "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}",
              "tensorflow": tf.__version__, "keras": keras.__version__, "model": source,
              "command": "python bench/lm_speed.py " + " ".join(argv if argv is not None else sys.argv[1:])}

    if not args.skip_training:
        runners = training_runners(config, encoder)
        rounds = {name: [] for name in runners}
        for _ in range(args.rounds):
            for name, run in runners.items():
                rounds[name].append(run(args.train_steps))
        report["training_tokens_per_s"] = {k: {"rounds": v, "median": statistics.median(v)} for k, v in rounds.items()}
        t = config["training"]
        print(f"\n| training, batch {t['batch_size']} x bptt {t['bptt']} (tokens/s) | "
              + " | ".join(f"round {i + 1}" for i in range(args.rounds)) + " | median |")
        print("|---|" + "---:|" * (args.rounds + 1))
        for name, values in rounds.items():
            print(f"| {name} | " + " | ".join(f"{v:,.0f}" for v in values) + f" | **{statistics.median(values):,.0f}** |")

    functions = generation_functions(lm, encoder, args.new_tokens, args.prompt)
    figures = {}
    for batch in (1, 32):
        for fn in functions.values():
            fn(batch)  # warm-up: traces the loop for this batch
        rounds = {key: [] for key in functions}
        for _ in range(args.rounds):
            for key, fn in functions.items():
                rounds[key].append(fn(batch))
        for (decoder, strategy), values in rounds.items():
            figures[(decoder, strategy, batch)] = statistics.median(values)
    report["generation_tokens_per_s"] = [
        {"decoder": d, "strategy": s, "batch": b, "tokens_per_s": v} for (d, s, b), v in figures.items()]
    print(f"\n| generation, {args.new_tokens} new tokens per row (tokens/s) | batch 1 | batch 32 |")
    print("|---|---:|---:|")
    for strategy, label in (("sample", "top-p 0.9 sampling"), ("beam", "beam 5")):
        for decoder in ("nlpseq (state carried)", "naive (prefix re-run)"):
            print(f"| {label}, {decoder} | {figures[(decoder, strategy, 1)]:,.0f} | {figures[(decoder, strategy, 32)]:,.0f} |")
        ratio = [figures[("nlpseq (state carried)", strategy, b)] / figures[("naive (prefix re-run)", strategy, b)]
                 for b in (1, 32)]
        report.setdefault("speedup_over_naive", {})[strategy] = {"batch 1": ratio[0], "batch 32": ratio[1]}
        print(f"| {label}, ratio nlpseq / naive | **{ratio[0]:.1f}x** | **{ratio[1]:.1f}x** |")

    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"\nfigures written to {args.json}")


if __name__ == "__main__":
    main()
