"""Scores ensembles of separately trained CRF taggers: every model alone, every pair, and all together.

An experiment tool (the POS card, session 12): it measures what an ensemble of independently
trained models would gain before anything is built to ship one. An ensemble tags by Viterbi
over the models' summed emission scores and summed transition weights (a product of experts,
as `encoder.branches` does inside one model). Each model encodes the words with its own
vocabularies; the models must share the tag list. The split files come from the first model's
config (`data.dev`, `data.test`).

Usage:
    python tasks/pos/score_ensemble.py runs/pos-f16 runs/pos-f16-s2 runs/pos-f16-s3 runs/pos-f16-s4
"""

import argparse
import itertools

import keras
import yaml

import nlpseq.models  # noqa: F401  (registers the model classes for loading)
from nlpseq.data.features import TaggingFeatures
from nlpseq.data.pipelines import encoded_dataset, padded_batches
from nlpseq.training.evaluation import score_tagging
from nlpseq.training.tagging import read_split


def emission_scores(model, features, word_lists, batch_size=256):
    """Per sentence, the (length, tags) emission scores of one tagger."""
    scores = []
    for start in range(0, len(word_lists), batch_size):
        chunk = word_lists[start:start + batch_size]
        batch = next(padded_batches(encoded_dataset([features.encode(w) for w in chunk]), batch_size)
                     .as_numpy_iterator())
        out = keras.ops.convert_to_numpy(model(batch, training=False))
        scores += [out[i, :len(words)] for i, words in enumerate(chunk)]
    return scores


def viterbi(potentials, transitions, start, end):
    """The best tag path of one sentence (numpy)."""
    delta, pointers = start + potentials[0], []
    for step in potentials[1:]:
        candidates = delta[:, None] + transitions
        pointers.append(candidates.argmax(axis=0))
        delta = candidates.max(axis=0) + step
    path = [int((delta + end).argmax())]
    for back in reversed(pointers):
        path.append(int(back[path[-1]]))
    return path[::-1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dirs", nargs="+", help="tagger directories written by `nlpseq train` (CRF heads)")
    args = parser.parse_args(argv)
    with open(f"{args.model_dirs[0]}/config.yaml", encoding="utf-8") as f:
        config = yaml.safe_load(f)
    models = [(keras.models.load_model(f"{d}/model.keras", compile=False), TaggingFeatures.load(f"{d}/assets"))
              for d in args.model_dirs]
    tags = list(models[0][1].tags)
    if any(list(features.tags) != tags for _, features in models):
        parser.error("the models have different tag lists")
    crfs = [[keras.ops.convert_to_numpy(w) for w in model.crf_weights()] for model, _ in models]
    n = len(models)
    groups = [(k,) for k in range(n)] + list(itertools.combinations(range(n), 2)) + ([tuple(range(n))] if n > 2 else [])
    for split in ("dev", "test"):
        pairs = read_split(config, split)
        words = [w for w, _ in pairs]
        scores = [emission_scores(model, features, words) for model, features in models]
        for group in groups:
            weights = [sum(crfs[k][i] for k in group) for i in range(3)]
            predicted = [[tags[t] for t in viterbi(sum(scores[k][s] for k in group), *weights)]
                         for s in range(len(words))]
            result = score_tagging(config["task"], [t for _, t in pairs], predicted, config["data"].get("model_scheme"))
            shown = {k: round(v, 4) for k, v in result.items() if k != "report"}
            print(split, "+".join(args.model_dirs[k] for k in group), shown, flush=True)


if __name__ == "__main__":
    main()
