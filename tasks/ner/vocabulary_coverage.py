"""How the words of an evaluation split are covered by a tagger's vocabulary sources.

An experiment tool (the NER card, session 13): each token of the split (normalized as the
tagger's word vocabulary is: lower case, digits to 0) falls in the first group that holds it:
a training word; one of the first `--pretrained-max-words` words of the vectors file; the rest
of the vectors file; a word of the unlabeled text that the vectors left out (seen once);
or none of them. Printed for all tokens and, for NER, entity tokens (tag other than `O`).
`--format conllu` reads CoNLL-U files (e.g. UD EWT for the POS card's figures).

Usage:
    python tasks/ner/vocabulary_coverage.py ../shared/data/conll2003/eng.train ../shared/data/conll2003/eng.testb \
        runs/vectors/w2v-100d-e10.txt --text ../shared/data/unlabeled/*.txt.gz
"""

import argparse
import collections

from nlpseq.data.vectors import read_word_vectors
from nlpseq.readers._lines import iter_lines
from nlpseq.readers.conll import read_conll
from nlpseq.readers.conllu import read_conllu
from nlpseq.tokenizers import Vocabulary, tokenize

GROUPS = ("training word", "first pretrained words", "rest of the vectors", "unlabeled text only", "nowhere")


def coverage(train_file, eval_file, vectors_file, text_files=(), pretrained_max_words=35000, file_format="conll"):
    """Counts the evaluation tokens of each group (see the module docstring).

    Args:
        train_file: the CoNLL training file.
        eval_file: the CoNLL file to measure.
        vectors_file: word vectors in word2vec text format, most frequent first.
        text_files: the unlabeled text the vectors were trained on (optional).
        pretrained_max_words: how many vectors the tagger adds to its vocabulary.
        file_format: "conll" or "conllu" (the tags are then UPOS).

    Returns:
        {"all": Counter, "entity": Counter} keyed by group name.
    """
    read = read_conllu if file_format == "conllu" else read_conll
    normalize = Vocabulary(["<pad>", "<unk>"], lowercase=True, normalize_digits=True).normalize
    train = {normalize(w) for s in read(train_file) for w in s.words}
    vector_words = [normalize(w) for w in read_word_vectors(vectors_file)[0]]
    first, rest = set(vector_words[:pretrained_max_words]), set(vector_words[pretrained_max_words:])
    text = {normalize(w) for path in text_files for _, line in iter_lines(path) for w in tokenize(line)}
    sources = (train, first, rest, text)
    counts = {"all": collections.Counter(), "entity": collections.Counter()}
    for sentence in read(eval_file):
        for word, tag in zip(sentence.words, sentence.tags):
            word = normalize(word)
            group = next((g for g, members in zip(GROUPS, sources) if word in members), GROUPS[-1])
            counts["all"][group] += 1
            if file_format == "conll" and tag != "O":
                counts["entity"][group] += 1
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("train", help="the CoNLL training file")
    parser.add_argument("eval", help="the CoNLL file to measure (e.g. eng.testb)")
    parser.add_argument("vectors", help="the word vectors file")
    parser.add_argument("--text", nargs="*", default=[], help="the unlabeled text files of the vectors")
    parser.add_argument("--format", choices=("conll", "conllu"), default="conll", help="format of the two files")
    parser.add_argument("--pretrained-max-words", type=int, default=35000,
                        help="vectors the tagger adds to its vocabulary (default 35000)")
    args = parser.parse_args(argv)
    counts = coverage(args.train, args.eval, args.vectors, args.text, args.pretrained_max_words, args.format)
    for kind, counter in counts.items():
        total = sum(counter.values())
        if not total:
            continue
        shares = ", ".join(f"{g} {counter[g]} ({counter[g] / total:.1%})" for g in GROUPS)
        print(f"{kind} tokens ({total}): {shares}")


if __name__ == "__main__":
    main()
