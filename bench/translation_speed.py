"""Translation speed: seq2seq training tokens/s and translation sentences/s (greedy, beam 5; batch 1 and 64).

Training: `model.fit` on the length-bucketed Multi30k batches of a task config
(default `tasks/translation/multi30k_en_de.yaml`), after a warm-up; tokens/s
counts source + target tokens (non-padding) per second of wall time.

Translation: sentences/s of the exported SavedModel (`Translator.translate_batch`:
in-graph SentencePiece, encoder, greedy or beam search, detokenization) on the
first `--sentences` sentences of test_2016_flickr, at batch 1 and 64. Each
figure is the median of `--rounds` rounds after a warm-up.

It uses the model directory `--model-dir` (default `saved_models/mt-multi30k-en-de`).

Run from the repository root:

    python bench/translation_speed.py            # full run (a few minutes on 2 cores)
    python bench/translation_speed.py --quick    # smoke run
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
    parser.add_argument("--config", default=str(ROOT / "tasks" / "translation" / "multi30k_en_de.yaml"))
    parser.add_argument("--model-dir", default=str(ROOT / "saved_models" / "mt-multi30k-en-de"))
    parser.add_argument("--train-steps", type=int, default=60, help="training steps per round")
    parser.add_argument("--sentences", type=int, default=256, help="test sentences translated per figure")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (median reported)")
    parser.add_argument("--quick", action="store_true", help="few steps and sentences, one round")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "translation_speed.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.train_steps, args.sentences, args.rounds = 10, 32, 1
    return args


def training_speed(config, model_dir, steps, rounds):
    """Median tokens/s of `fit` over `rounds` runs of `steps` batches (a warm-up round first)."""
    import keras
    import tensorflow as tf

    from nlpseq.data.parallel import encode_pairs, translation_epochs
    from nlpseq.training.translation import TranslationEncoders, build_seq2seq, read_split

    keras.utils.set_random_seed(1)
    encoders = TranslationEncoders.load(Path(model_dir) / "assets")
    sources, targets = encode_pairs(read_split(config, "train"), encoders.source, encoders.target)
    model = build_seq2seq(config, encoders)
    t = config["training"]
    model.compile(optimizer=keras.optimizers.Adam(t["learning_rate"], global_clipnorm=t["global_clipnorm"]))
    batches = iter(translation_epochs(sources, targets, 0, 100, t["batch_size"], bos_id=encoders.target.bos_id,
                                      eos_id=encoders.target.eos_id, seed=1, bucket_width=t["bucket_width"]))
    figures = []
    for round_ in range(rounds + 1):
        chunk = [next(batches) for _ in range(steps)]
        tokens = sum(int(np.count_nonzero(x["source"]) + np.count_nonzero(y)) for x, y in chunk)
        dataset = tf.data.Dataset.from_generator(lambda c=chunk: iter(c), output_signature=(
            {"source": tf.TensorSpec([None, None], tf.int32), "target_in": tf.TensorSpec([None, None], tf.int32)},
            tf.TensorSpec([None, None], tf.int32)))
        start = time.perf_counter()
        model.fit(dataset, verbose=0)
        if round_ > 0:  # round 0 traces the step
            figures.append(tokens / (time.perf_counter() - start))
    return figures


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    from nlpseq.api.translator import Translator
    from nlpseq.readers.parallel import read_parallel
    from nlpseq.training.config import resolve_config

    os.chdir(ROOT)
    config = resolve_config("translation", args.config)
    report = {"date": datetime.date.today().isoformat(), "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}",
              "tensorflow": tf.__version__, "keras": keras.__version__, "model": args.model_dir,
              "command": "python bench/translation_speed.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    rounds = training_speed(config, args.model_dir, args.train_steps, args.rounds)
    report["training_tokens_per_s"] = {"rounds": rounds, "median": statistics.median(rounds)}
    print(f"\n| training, batch {config['training']['batch_size']} (source + target tokens/s) | "
          + " | ".join(f"round {i + 1}" for i in range(len(rounds))) + " | median |")
    print("|---|" + "---:|" * (len(rounds) + 1))
    print("| Seq2SeqModel.fit | " + " | ".join(f"{v:,.0f}" for v in rounds) + f" | **{statistics.median(rounds):,.0f}** |")

    data = config["data"]
    texts = [s for s, _ in read_parallel(data["test_source"], data["test_target"])][:args.sentences]
    translator = Translator.load(args.model_dir)
    figures = {}
    for beam in (1, 5):
        for batch in (1, 64):
            translator.translate_batch(texts[:batch], beam_size=beam, batch_size=batch)  # warm-up
            values = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                translator.translate_batch(texts, beam_size=beam, batch_size=batch)
                values.append(len(texts) / (time.perf_counter() - start))
            figures[(beam, batch)] = statistics.median(values)
    report["translation_sentences_per_s"] = [{"beam": b, "batch": n, "sentences_per_s": v}
                                             for (b, n), v in figures.items()]
    print(f"\n| translation, {len(texts)} test sentences (sentences/s) | batch 1 | batch 64 |")
    print("|---|---:|---:|")
    for beam, label in ((1, "greedy"), (5, "beam 5")):
        print(f"| {label} | {figures[(beam, 1)]:,.1f} | {figures[(beam, 64)]:,.1f} |")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"\nfigures written to {args.json}")


if __name__ == "__main__":
    main()
