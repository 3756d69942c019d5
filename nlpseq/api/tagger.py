"""`Tagger`: the Python API over an exported tagger model directory."""

from pathlib import Path

import numpy as np

from nlpseq.api.progress import Progress
from nlpseq.checks import is_whole_number
from nlpseq.errors import InputError
from nlpseq.export.model_dir import load_saved_model
from nlpseq.readers.schemes import convert_tags, tags_to_spans
from nlpseq.tokenizers.words import align_offsets


def _decode_rows(outputs, words=None):
    """(word, tag) rows of a SavedModel call; `words` are the token lists given to it, if any
    (they are what the graph returns, so only texts need their words decoded)."""
    tags = outputs["tags"].numpy()
    lengths = outputs["lengths"].numpy()
    names = {}  # a model has few tags: decode each once
    tag_rows = [[names.get(t) or names.setdefault(t, t.decode("utf-8")) for t in tags[i, :n]]
                for i, n in enumerate(lengths)]
    if words is None:
        graph_words = outputs["words"].numpy()
        words = [[w.decode("utf-8") for w in graph_words[i, :n]] for i, n in enumerate(lengths)]
    return [list(zip(row_words, row_tags)) for row_words, row_tags in zip(words, tag_rows)]


def _length_chunks(pairs, size, batch_size, max_tokens):
    """Cuts (index, item) pairs, longest first, into lists of at most `batch_size`
    items whose count times the longest `size(item)` stays within `max_tokens`."""
    # Each item is measured once (for texts that is a split).
    sized = sorted(((size(pair[1]), pair) for pair in pairs), key=lambda s: -s[0])
    chunk, width = [], 0
    for length, pair in sized:
        if chunk and (len(chunk) == batch_size or (len(chunk) + 1) * width > max_tokens):
            yield chunk
            chunk = []
        if not chunk:
            width = max(length, 1)  # the first item is the chunk's longest
        chunk.append(pair)
    if chunk:
        yield chunk


class Tagger:
    """Tags text with a trained NER or POS model.

    It runs the model directory's SavedModel, so tokenization, vocabulary
    lookups, the network and Viterbi decoding happen in one compiled graph.

    Example:
        >>> from nlpseq import Tagger
        >>> tagger = Tagger.load("saved_models/ner-conll2003")
        >>> tagger.tag("EU rejects German call to boycott British lamb .")
        [('EU', 'S-ORG'), ('rejects', 'O'), ('German', 'S-MISC'), ...]
    """

    def __init__(self, path, config, saved_model):
        self.path = Path(path)
        self.config = config
        self.task = config["task"]
        self._saved = saved_model

    @classmethod
    def load(cls, path):
        """Loads a model directory written by `nlpseq train`.

        Args:
            path: the model directory.

        Returns:
            A Tagger.

        Raises:
            ModelDirError: the directory is missing, incomplete or not a tagger.
        """
        config, saved = load_saved_model(path, kinds=("ner", "pos"))
        return cls(path, config, saved)

    @property
    def scheme(self):
        """The entity tag scheme the model predicts (NER), or None."""
        return self.config["data"]["model_scheme"] if self.task == "ner" else None

    def tag(self, text):
        """Tags one text.

        Args:
            text: a string; it is split into words (punctuation split off).

        Returns:
            list of (word, tag) pairs; [] for empty or whitespace-only text.
        """
        return self.tag_batch([text])[0]

    def tag_batch(self, items, batch_size=1024, max_tokens=4096, progress=False):
        """Tags many texts or pre-split token lists.

        Items are sorted by length and cut into graph calls of at most
        `batch_size` items and about `max_tokens` padded words each (a longer
        item gets a call of its own): short sentences then share large calls,
        and long ones do not pad many short ones. The time loops run once per
        call over its longest item, so fewer, fuller calls are faster
        (bench/tagger_speed.py measures the settings; see BENCHMARKS.md).

        Args:
            items: a list whose elements are strings (tokenized in-graph) or
                lists of word strings (used as they are).
            batch_size: most items per graph call.
            max_tokens: padded words per graph call (items x longest item);
                texts are measured by their whitespace-separated words.
            progress: draw a count of the tagged sentences on standard error.

        Returns:
            list of lists of (word, tag) pairs, aligned with `items`.
        """
        import tensorflow as tf

        if isinstance(items, (str, bytes)):
            raise InputError("tag_batch expects a list of texts or token lists; use tag() for one text")
        for name, value in (("batch_size", batch_size), ("max_tokens", max_tokens)):
            if not is_whole_number(value):
                raise InputError(f"{name} must be an int >= 1, got {value!r}")
        items = list(items)
        results = [None] * len(items)
        texts = [(i, x) for i, x in enumerate(items) if isinstance(x, str)]
        token_lists = [(i, x) for i, x in enumerate(items) if not isinstance(x, str)]
        for i, x in token_lists:
            if not isinstance(x, (list, tuple)) or not all(isinstance(w, str) for w in x):
                raise InputError(f"item {i} is neither a string nor a list of word strings")
            # Joined and split again, the words come back unchanged unless one is empty or holds whitespace.
            if " ".join(x).split() != list(x):
                raise InputError(f"item {i} has an empty word or a word containing whitespace")
        counter = Progress(len(items), "sentences", progress)
        for chunk in _length_chunks(texts, lambda t: len(t.split()), batch_size, max_tokens):
            out = self._saved.tag_text(tf.constant([t for _, t in chunk], tf.string))
            for (i, _), row in zip(chunk, _decode_rows(out)):
                results[i] = row
            counter.advance(len(chunk))
        for chunk in _length_chunks(token_lists, len, batch_size, max_tokens):
            width = max(len(t) for _, t in chunk)
            if width == 0:
                for i, _ in chunk:
                    results[i] = []
            else:
                padded = np.array([list(t) + [""] * (width - len(t)) for _, t in chunk], dtype=object)
                out = self._saved.tag_tokens(tf.constant(padded, tf.string))
                for (i, _), row in zip(chunk, _decode_rows(out, [t for _, t in chunk])):
                    results[i] = row
            counter.advance(len(chunk))
        counter.close()
        return results

    def tag_document(self, items, batch_size=1024, max_tokens=4096, progress=False):
        """Tags the sentences of one document, then makes its entity tags agree (NER models only).

        Mentions of the same words get the type the tagger gave them most often in the
        document, and capitalized words that match a mention found elsewhere in it are
        tagged too (`nlpseq.decoding.entity_consistency` has the rules). News stories name
        an entity several times, so this helps most on whole stories; on CoNLL-2003 it adds
        0.2-0.5 dev F1 points.

        Args:
            items: the document's sentences, as `tag_batch` takes them (texts or token lists).
            batch_size: as for `tag_batch`.
            max_tokens: as for `tag_batch`.
            progress: as for `tag_batch`.

        Returns:
            list of lists of (word, tag) pairs, aligned with `items`.
        """
        from nlpseq.decoding.entity_consistency import harmonize_rows

        if self.task != "ner":
            raise InputError(f"tag_document() needs an NER model; {self.path} is a '{self.task}' model")
        rows = self.tag_batch(items, batch_size=batch_size, max_tokens=max_tokens, progress=progress)
        return harmonize_rows(rows, [0] * len(rows), self.scheme)

    def entities(self, text):
        """Finds entities in a text (NER models only).

        Args:
            text: a string.

        Returns:
            list of dicts `{"text", "type", "start", "end", "token_start",
            "token_end"}`; `start`/`end` are character offsets into `text`
            (end exclusive), `token_*` word indices (end exclusive).
        """
        if self.task != "ner":
            raise InputError(f"entities() needs an NER model; {self.path} is a '{self.task}' model")
        pairs = self.tag(text)
        words = [w for w, _ in pairs]
        tags = convert_tags([t for _, t in pairs], self.scheme, "BIO")
        offsets = align_offsets(text, words)
        spans = []
        for kind, first, last in tags_to_spans(tags, "BIO"):
            start, end = offsets[first][0], offsets[last - 1][1]
            spans.append({"text": text[start:end], "type": kind, "start": start, "end": end,
                          "token_start": first, "token_end": last})
        return spans
