"""Tagger training speed under process-level settings, each in its own process, next to torch padded.

Some settings can only be chosen before TensorFlow starts (threads per op, oneDNN) or
swap a whole component (the optimizer), so each setting trains the benchmark tagger of
`bench/tagger_speed.py` (same config, same batches) in its own child process; the
settings and the PyTorch padded reference run in interleaved rounds and the median round
is reported, with the ratio to torch in the same run.

A setting is a `;`-separated list of `NAME=VALUE` items, `-` for none:
- environment variables set in the child before TensorFlow is imported, e.g.
  `TF_NUM_INTRAOP_THREADS=1`, `TF_ENABLE_ONEDNN_OPTS=0`;
- `optimizer=keras`: Keras' own Adam instead of `nlpseq.training.optimizers.Adam`;
- `steps_per_execution=N`: Keras' `compile(steps_per_execution=N)` (N batches per
  graph call).

The children do not call `training.intra_op_threads` themselves: each runs with
TensorFlow's defaults unless its setting says otherwise.

Run from the repository root, for example:

    python bench/tagger_settings.py "optimizer=keras" - "optimizer=keras;TF_NUM_INTRAOP_THREADS=1" \\
        "TF_NUM_INTRAOP_THREADS=1"
"""

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tagger_speed  # noqa: E402 (stdlib and numpy only: TensorFlow is imported later, in each child)

WARMUP = 32  # untimed batches per setting first (a multiple of the steps_per_execution values tried)


def _worker(connection, setting, head):
    """Child: applies `setting`, then trains on the (seed, steps) epochs it is sent."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    items = dict(item.split("=", 1) for item in setting.split(";") if item and item != "-")
    keras_adam = items.pop("optimizer", None) == "keras"
    steps_per_execution = int(items.pop("steps_per_execution", 1))
    os.environ.update(items)
    if keras_adam:
        import keras

        from nlpseq.training import optimizers

        optimizers.Adam = keras.optimizers.Adam
    features, encoded, _ = tagger_speed.load_corpus(tagger_speed.DATA / "eng.train")
    runner = tagger_speed.NlpseqRunner(head, features, steps_per_execution=steps_per_execution)
    tagger_speed.serve(connection, lambda job: runner.run(*tagger_speed.epoch_batches(encoded, *job)))


class SettingProcess(tagger_speed.ChildProcess):
    """One setting's runner in its own (spawned) process."""

    def __init__(self, setting, head):
        super().__init__(_worker, setting, head)

    def run(self, seed, steps):
        return self.call((seed, steps))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("settings", nargs="+", help="settings to compare (see above); '-' is the plain run")
    parser.add_argument("--head", default="softmax", choices=["softmax", "crf"], help="tagger head")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median reported)")
    parser.add_argument("--steps", type=int, default=96, help="timed batches per setting and round")
    args = parser.parse_args(argv)
    for setting in args.settings:
        n = int(dict(i.split("=", 1) for i in setting.split(";") if "=" in i).get("steps_per_execution", 1))
        if args.steps % n or WARMUP % n:
            # Keras 3 rounds an epoch up to whole executions, which would read past the round's batches.
            parser.error(f"--steps ({args.steps}) and the {WARMUP} warm-up batches must be multiples of "
                         f"steps_per_execution ({n})")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    features, encoded, _ = tagger_speed.load_corpus(tagger_speed.DATA / "eng.train")
    runners = {setting: SettingProcess(setting, args.head) for setting in args.settings}
    torch = tagger_speed.TorchProcess(False, len(features.words), len(features.tags), os.cpu_count() or 1)
    for runner in runners.values():
        runner.run(1000, WARMUP)
    torch.run(*tagger_speed.epoch_batches(encoded, 1000, WARMUP))
    rates = {name: [] for name in list(runners) + ["torch padded"]}
    for r in range(args.rounds):
        seed = 1001 + r  # each round is the start of a new epoch, the same batches for everyone
        for name, runner in runners.items():
            tokens, seconds = runner.run(seed, args.steps)
            rates[name].append(tokens / seconds)
        tokens, seconds = torch.run(*tagger_speed.epoch_batches(encoded, seed, args.steps))
        rates["torch padded"].append(tokens / seconds)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in rates.items()), flush=True)
    reference = statistics.median(rates["torch padded"])
    print("\n| setting | tokens/s (rounds) | median | / torch padded |\n|---|---|---:|---:|")
    for name, values in rates.items():
        rounds = " / ".join(f"{v:,.0f}" for v in values)
        print(f"| `{name}` | {rounds} | {statistics.median(values):,.0f} | "
              f"{statistics.median(values) / reference:.2f} |")
    for runner in runners.values():
        runner.close()
    torch.close()


if __name__ == "__main__":
    main()
