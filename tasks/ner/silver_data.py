"""Tags unlabeled text with a trained tagger and writes it as CoNLL training data ("silver" data).

An experiment tool (the NER card, session 13): self-training. The unlabeled Reuters-21578
newswire of `../shared/data/unlabeled` is close to CoNLL-2003's RCV1 text, and a tagger
trained on the gold data plus its own predictions on that text sees many more entity
names in context, and trains the embedding rows of words that occur only in the pretrained
vectors (their rows are otherwise never updated while the training words' rows move).

Each input line (a paragraph) is split into words with nlpseq's tokenizer, then into
sentences after `.`, `!` or `?`; sentences shorter than `--min-words` or longer than
`--max-words` words are left out, and so are repeats. `--max-sentences` keeps a seeded random
sample. Output: `word tag` lines with a blank line after each sentence, tags in `--scheme`.

Usage:
    python tasks/ner/silver_data.py saved_models/ner-conll2003 ../shared/data/unlabeled/reuters.train.txt.gz \
        ../shared/data/unlabeled/reuters.test.txt.gz --output runs/silver/reuters.iob1 --max-sentences 30000
"""

import argparse
import random
import time

from nlpseq import Tagger
from nlpseq.readers._lines import iter_lines
from nlpseq.readers.conll import write_conll
from nlpseq.readers.conllu import write_conllu
from nlpseq.readers.schemes import convert_tags
from nlpseq.tokenizers import tokenize

SENTENCE_ENDS = frozenset(".!?")


def split_sentences(words):
    """Cuts a paragraph's words after each sentence-final punctuation mark.

    Args:
        words: the paragraph's words.

    Returns:
        list of word lists (the last one may lack final punctuation).
    """
    sentences, current = [], []
    for word in words:
        current.append(word)
        if word in SENTENCE_ENDS:
            sentences.append(current)
            current = []
    return sentences + ([current] if current else [])


def read_sentences(paths, min_words, max_words):
    """The distinct sentences of the text files, in file order.

    Args:
        paths: plain or gzipped text files, one paragraph per line.
        min_words: shortest sentence kept.
        max_words: longest sentence kept.

    Returns:
        list of word lists.
    """
    seen, sentences = set(), []
    for path in paths:
        for _, line in iter_lines(path):
            for sentence in split_sentences(tokenize(line)):
                key = " ".join(sentence)
                if min_words <= len(sentence) <= max_words and key not in seen:
                    seen.add(key)
                    sentences.append(sentence)
    return sentences


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", help="a trained NER model directory")
    parser.add_argument("text", nargs="+", help="unlabeled text files (.txt or .txt.gz), one paragraph per line")
    parser.add_argument("--output", required=True, help="the CoNLL file to write")
    parser.add_argument("--scheme", default="IOB1", help="NER: tag scheme of the output (default IOB1, as CoNLL-2003)")
    parser.add_argument("--format", choices=("conll", "conllu"), default="conll",
                        help="conll: `word tag` lines; conllu: 10 columns, the tag in UPOS (for POS taggers)")
    parser.add_argument("--min-words", type=int, default=3, help="shortest sentence kept (default 3)")
    parser.add_argument("--max-words", type=int, default=60, help="longest sentence kept (default 60)")
    parser.add_argument("--max-sentences", type=int, default=None, help="keep a random sample of this many")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sample (default 1)")
    args = parser.parse_args(argv)

    started = time.time()
    sentences = read_sentences(args.text, args.min_words, args.max_words)
    print(f"{len(sentences)} distinct sentences of {args.min_words}-{args.max_words} words", flush=True)
    if args.max_sentences is not None and args.max_sentences < len(sentences):
        sentences = random.Random(args.seed).sample(sentences, args.max_sentences)
    tagger = Tagger.load(args.model_dir)
    rows = tagger.tag_batch(sentences)
    tags = [[tag for _, tag in row] for row in rows]
    if tagger.scheme is not None:  # NER: the model's scheme (IOBES) to the training files' own
        tags = [convert_tags(row, tagger.scheme, args.scheme) for row in tags]
    tagged = list(zip(sentences, tags))
    if args.format == "conllu":
        write_conllu(args.output, tagged)
    else:
        write_conll(args.output, tagged, tag_sep=" ")
    print(f"wrote {len(tagged)} sentences to {args.output} in {time.time() - started:.0f}s")


if __name__ == "__main__":
    main()
