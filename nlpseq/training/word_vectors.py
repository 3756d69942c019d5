"""Pretraining word vectors (skip-gram word2vec) on unlabeled text, for the taggers.

Run it as `nlpseq vectors --text FILES --output vectors.txt`. Text is split with
nlpseq's word tokenizer and normalized like the tagger's
word vocabulary (lower case, digits → 0), so every vector lands on a
vocabulary entry. Needs the optional `pretrain` extra (gensim).
"""

import time
from pathlib import Path

from nlpseq import atomic_files
from nlpseq.errors import ConfigError, DataError
from nlpseq.readers._lines import iter_lines
from nlpseq.readers.conll import read_conll
from nlpseq.readers.conllu import read_conllu
from nlpseq.tokenizers import Vocabulary, tokenize


class _Sentences:
    """Re-iterable stream of normalized token lists from text, CoNLL and CoNLL-U files."""

    def __init__(self, text_files, conll_files, conllu_files, normalizer, max_line_words=1000):
        self.text_files = text_files
        self.conll_files = conll_files
        self.conllu_files = conllu_files
        self.normalize = normalizer
        self.max_line_words = max_line_words

    def __iter__(self):
        for path in self.text_files:
            for _, line in iter_lines(path):
                words = [self.normalize(w) for w in tokenize(line)]
                # Some Gutenberg "lines" are whole books; cut them to sentence-sized pieces.
                for start in range(0, len(words), self.max_line_words):
                    yield words[start:start + self.max_line_words]
        for path in self.conll_files:
            for sentence in read_conll(path):
                yield [self.normalize(w) for w in sentence.words]
        for path in self.conllu_files:
            for sentence in read_conllu(path):
                yield [self.normalize(w) for w in sentence.words]


def train_word_vectors(text_files, output, *, conll_files=(), conllu_files=(), dim=100, window=5, min_count=3,
                       epochs=5, max_words=100000, seed=1, workers=2):
    """Trains skip-gram vectors and writes them in word2vec text format (most frequent first).

    Args:
        text_files: plain or gzipped text files, one paragraph or sentence per line.
        output: the `.txt` file to write (written to a temporary name, then renamed).
        conll_files: CoNLL files whose words are added to the corpus (e.g. the
            tagger's own training file).
        conllu_files: CoNLL-U files whose words are added likewise (e.g. UD EWT train).
        dim: vector size.
        window: context window (words each side); narrow windows (1-2) give vectors that
            reflect syntax more than topic, which suits POS tagging.
        min_count: ignore rarer words.
        epochs: passes over the corpus.
        max_words: most frequent words written.
        seed: random seed.
        workers: training threads.

    Returns:
        The number of vectors written.
    """
    try:
        from gensim.models import Word2Vec
        from gensim.models.callbacks import CallbackAny2Vec
    except ImportError:
        raise ConfigError("pretraining word vectors needs gensim: pip install 'nlpseq[pretrain]'") from None
    for name, value in (("dim", dim), ("window", window), ("epochs", epochs), ("min_count", min_count)):
        if int(value) < 1:
            raise ConfigError(f"word vectors: {name} must be at least 1, got {value}")
    for path in list(text_files) + list(conll_files) + list(conllu_files):
        if not Path(path).is_file():
            raise DataError(path, None, "file not found")
    normalizer = Vocabulary(["<pad>", "<unk>"], lowercase=True, normalize_digits=True).normalize
    corpus = _Sentences(list(text_files), list(conll_files), list(conllu_files), normalizer)
    started = time.time()

    class Progress(CallbackAny2Vec):
        # A line per pass, so a run of many minutes shows that it moves.
        def __init__(self):
            self.epoch = 0

        def on_epoch_end(self, model):
            self.epoch += 1
            print(f"word vectors: pass {self.epoch}/{epochs} done after {time.time() - started:.0f}s", flush=True)

    n_files = len(corpus.text_files) + len(corpus.conll_files) + len(corpus.conllu_files)
    print(f"word vectors: reading {n_files} files", flush=True)
    model = Word2Vec(sentences=corpus, vector_size=dim, window=window, min_count=min_count, sg=1,
                     negative=10, sample=1e-4, epochs=epochs, seed=seed, workers=workers,
                     callbacks=[Progress()])
    words = model.wv.index_to_key[:max_words]
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_files.atomic_path(output) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.write(f"{len(words)} {dim}\n")
        for word in words:
            handle.write(word + " " + " ".join(f"{x:.5f}" for x in model.wv[word]) + "\n")
    print(f"{len(words)} vectors of {model.corpus_total_words} corpus words in {time.time() - started:.0f}s -> {output}")
    return len(words)

