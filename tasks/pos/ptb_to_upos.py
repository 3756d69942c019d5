"""Converts Penn Treebank-tagged text (the WSJ sample, CoNLL-2000) to UPOS training data in CoNLL-U.

An experiment tool (the POS card, session 14): more hand-tagged sentences for the UPOS tagger.
`../shared/data/treebank_sample/wsj_sample.pos.txt` holds 94k words of WSJ with gold Penn
Treebank tags, and EWT's XPOS column uses the same tag set, but the two tag sets do not map
one to one: IN is ADP or SCONJ, VBZ is AUX or VERB, DT is DET or PRON. A word-by-word table
learnt from EWT gets 97.7% of EWT dev right, no better than the tagger itself. So each
sentence is tagged by a trained UPOS tagger whose Viterbi search may only choose, at each
word, a UPOS tag that EWT's training data pairs with that word's PTB tag (in at least
`--min-share` of that PTB tag's words). The PTB tag settles most of the tagger's mistakes;
the tagger settles what the PTB tag leaves open.

Before converting, the script runs the same constrained decoding on EWT dev with its gold
XPOS, and prints that accuracy beside the tagger's own: an estimate of how right the
converted tags are (on EWT's domain, not WSJ's).

Penn Treebank escapes are undone (`-LRB-` → `(`, `\\/` → `/`), as EWT writes its words.

Usage:
    python tasks/pos/ptb_to_upos.py saved_models/pos-ud-ewt ../shared/data/treebank_sample/wsj_sample.pos.txt \
        --output runs/silver/wsj-upos.conllu
"""

import argparse
import time
from collections import Counter, defaultdict

import keras
import numpy as np
from score_ensemble import emission_scores, viterbi

from nlpseq.data.features import TaggingFeatures
from nlpseq.errors import DataError
from nlpseq.readers.conll import read_conll
from nlpseq.readers.conllu import read_conllu, write_conllu

EWT = "../shared/data/ud_english_ewt/en_ewt-ud-"
PTB_ESCAPES = {"-LRB-": "(", "-RRB-": ")", "-LCB-": "{", "-RCB-": "}", "-LSB-": "[", "-RSB-": "]"}
# PTB tags that EWT's XPOS column never uses, and their UPOS.
MISSING_IN_EWT = {"#": {"SYM"}, "(": {"PUNCT"}, ")": {"PUNCT"}}  # CoNLL-2000 tags brackets ( and )
# A disallowed tag's emission score: low enough that Viterbi never takes it while another tag is allowed.
BLOCKED = -1e4


def unescape(word):
    """A Penn Treebank word as plain text (`-LRB-` → `(`, `1\\/2` → `1/2`, `\\*` → `*`)."""
    return PTB_ESCAPES.get(word, word.replace("\\/", "/").replace("\\*", "*"))


def allowed_upos(train_path, min_share):
    """Which UPOS tags EWT's training data gives each PTB tag.

    Args:
        train_path: a CoNLL-U file with both UPOS and XPOS.
        min_share: the smallest share of a PTB tag's words a UPOS tag needs to be allowed.

    Returns:
        dict from PTB tag to the set of its UPOS tags.
    """
    pairs = defaultdict(Counter)
    for upos, xpos in zip(read_conllu(train_path, tag_field="upos"), read_conllu(train_path, tag_field="xpos")):
        for u, x in zip(upos.tags, xpos.tags):
            pairs[x][u] += 1
    allowed = {x: {u for u, n in counts.items() if n >= min_share * sum(counts.values())}
               for x, counts in pairs.items()}
    return {**MISSING_IN_EWT, **allowed}


def constrained_tags(model, features, crf, sentences, allowed):
    """Tags sentences, choosing at each word only among the UPOS tags its PTB tag allows.

    Args:
        model: the tagger's Keras model (emission scores out).
        features: its `TaggingFeatures`.
        crf: its (transitions, start, end) CRF weights as numpy arrays.
        sentences: (words, ptb_tags) pairs.
        allowed: dict from PTB tag to allowed UPOS tags; a PTB tag it lacks allows every tag.

    Returns:
        (constrained, free): per sentence, the constrained tags and the tagger's own.
    """
    tags = list(features.tags)
    masks = {x: np.array([0.0 if t in ups else BLOCKED for t in tags]) for x, ups in allowed.items()}
    scores = emission_scores(model, features, [words for words, _ in sentences])
    constrained, free = [], []
    for potentials, (_, ptb) in zip(scores, sentences):
        mask = np.stack([masks.get(x, np.zeros(len(tags))) for x in ptb])
        constrained.append([tags[t] for t in viterbi(potentials + mask, *crf)])
        free.append([tags[t] for t in viterbi(potentials, *crf)])
    return constrained, free


def accuracy(predicted, gold):
    """Token accuracy of tag lists against gold tag lists."""
    right = sum(p == g for ps, gs in zip(predicted, gold) for p, g in zip(ps, gs))
    return right / sum(len(gs) for gs in gold)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", help="a trained UPOS tagger directory (CRF head)")
    parser.add_argument("ptb_files", nargs="+", help="`word TAG ...` column files with Penn Treebank tags")
    parser.add_argument("--output", required=True, help="the CoNLL-U file to write")
    parser.add_argument("--tag-column", type=int, default=1, help="the PTB tag's column (default 1, the second)")
    parser.add_argument("--min-share", type=float, default=0.005,
                        help="a UPOS tag is allowed for a PTB tag when EWT train gives it at least this share "
                             "of that PTB tag's words (default 0.005)")
    args = parser.parse_args(argv)

    started = time.time()
    allowed = allowed_upos(EWT + "train.conllu", args.min_share)
    model = keras.models.load_model(f"{args.model_dir}/model.keras", compile=False)
    features = TaggingFeatures.load(f"{args.model_dir}/assets")
    crf = [keras.ops.convert_to_numpy(w) for w in model.crf_weights()]

    dev_upos = read_conllu(EWT + "dev.conllu", tag_field="upos")
    dev_xpos = read_conllu(EWT + "dev.conllu", tag_field="xpos")
    dev = [(list(u.words), list(x.tags)) for u, x in zip(dev_upos, dev_xpos)]
    constrained, free = constrained_tags(model, features, crf, dev, allowed)
    gold = [s.tags for s in dev_upos]
    print(f"EWT dev: tagger {accuracy(free, gold):.4f}, constrained by gold XPOS {accuracy(constrained, gold):.4f}",
          flush=True)

    sentences = []
    for path in args.ptb_files:
        for s in read_conll(path, tag_column=args.tag_column):
            unknown = sorted(set(s.tags) - set(allowed))
            if unknown:
                raise DataError(path, s.line, f"PTB tag {unknown[0]!r} does not occur in EWT's XPOS column")
            sentences.append(([unescape(w) for w in s.words], list(s.tags)))
    upos, _ = constrained_tags(model, features, crf, sentences, allowed)
    write_conllu(args.output, [(w, u) for (w, _), u in zip(sentences, upos)], xpos=[x for _, x in sentences])
    n_words = sum(len(w) for w, _ in sentences)
    print(f"wrote {len(sentences)} sentences ({n_words} words) to {args.output} in {time.time() - started:.0f}s")


if __name__ == "__main__":
    main()
