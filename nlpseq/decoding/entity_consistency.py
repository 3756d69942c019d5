"""Document-level label consistency for entity tags (a post-processing step after Viterbi).

A news story names the same entity several times, and a sentence-level tagger may type the
mentions differently ("Jordan" PER in one sentence, LOC in another) or miss one. Within one
document, the tags the tagger gave most often are then the better guess for all the mentions
(Krishnan & Manning 2006 use the same evidence inside a CRF). Two rules, in this order,
both from the tagger's own predictions for the document:

1. **Majority type.** A mention takes the type the document's mentions of the same words
   have most often, when that type is strictly more frequent than its own.
2. **Missed mentions.** A run of untagged words that starts with an upper-case letter and
   equals a mention found elsewhere in the document is tagged as that mention (its
   majority type), longest match first.

On CoNLL-2003 this adds 0.2–0.5 dev F1 points to each of four trained taggers (the NER model
card, session 14). A third rule tried there, giving a one-word mention the type its word has
inside longer mentions ("Jordan" after "Michael Jordan"), lost 0.01–0.06 points on each, so
it is not here.
"""

from collections import Counter, defaultdict

from nlpseq.readers.schemes import convert_tags, tags_to_spans


def _mention_counts(sentences):
    """Type counts per mention text, over a document's BIO-tagged sentences."""
    by_text = defaultdict(Counter)
    for words, tags in sentences:
        for kind, start, end in tags_to_spans(tags, "BIO"):
            by_text[" ".join(words[start:end])][kind] += 1
    return by_text


def _retag(tags, start, end, kind):
    tags[start:end] = [f"B-{kind}"] + [f"I-{kind}"] * (end - start - 1)


def _missed_mention(words, tags, start, by_text, longest):
    """The length of the longest known mention text that untagged words at `start` spell, or 0.

    The run must start with an upper-case letter, so that "us" does not become "US".
    """
    if not words[start][:1].isupper():
        return 0
    for n in range(min(longest, len(words) - start), 0, -1):
        if all(t == "O" for t in tags[start:start + n]) and " ".join(words[start:start + n]) in by_text:
            return n
    return 0


def harmonize_document(sentences, scheme):
    """Makes the entity tags of one document consistent (the two rules of this module).

    Args:
        sentences: the document's (words, tags) pairs, in order; tags in `scheme`.
        scheme: the entity tag scheme of the tags ("IOB1", "BIO" or "IOBES").

    Returns:
        list of tag lists, one per sentence, in `scheme`.
    """
    bio = [(list(words), convert_tags(list(tags), scheme, "BIO")) for words, tags in sentences]
    by_text = _mention_counts(bio)
    longest = max((len(text.split(" ")) for text in by_text), default=0)
    result = []
    for words, tags in bio:
        new = list(tags)
        for kind, start, end in tags_to_spans(tags, "BIO"):
            counts = by_text[" ".join(words[start:end])]
            best, n = counts.most_common(1)[0]
            if n > counts[kind]:
                _retag(new, start, end, best)
        start = 0
        while start < len(words):
            length = _missed_mention(words, new, start, by_text, longest)
            if length:
                # The mention's majority type (on a tie, the type seen first).
                _retag(new, start, start + length, by_text[" ".join(words[start:start + length])].most_common(1)[0][0])
            start += max(length, 1)
        result.append(convert_tags(new, "BIO", scheme))
    return result


def harmonize_documents(sentences, document_ids, scheme):
    """Applies `harmonize_document` to each document of a list of sentences.

    Args:
        sentences: (words, tags) pairs, tags in `scheme`.
        document_ids: one document number per sentence; sentences of a document need not be adjacent.
        scheme: the entity tag scheme of the tags.

    Returns:
        list of tag lists aligned with `sentences`.
    """
    if len(document_ids) != len(sentences):
        raise ValueError(f"{len(document_ids)} document ids for {len(sentences)} sentences")
    members = defaultdict(list)
    for i, doc in enumerate(document_ids):
        members[doc].append(i)
    result = [None] * len(sentences)
    for indices in members.values():
        for i, tags in zip(indices, harmonize_document([sentences[i] for i in indices], scheme)):
            result[i] = tags
    return result


def harmonize_rows(rows, document_ids, scheme):
    """`harmonize_documents` over tagger output: (word, tag) rows, as `Tagger.tag_batch` returns.

    Args:
        rows: one list of (word, tag) pairs per sentence, tags in `scheme`.
        document_ids: one document number per sentence.
        scheme: the entity tag scheme of the tags.

    Returns:
        the rows with their tags harmonized.
    """
    words = [[w for w, _ in row] for row in rows]
    tags = harmonize_documents([(w, [t for _, t in row]) for w, row in zip(words, rows)], document_ids, scheme)
    return [list(zip(w, t)) for w, t in zip(words, tags)]
