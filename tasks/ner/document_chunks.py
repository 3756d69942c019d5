"""Rewrites a CoNLL-2003 file with each document's sentences merged into chunks of up to N tokens.

An experiment tool (the NER card, session 12): a tagger trained and scored on the chunks
sees the neighbouring sentences of its document as context. Chunks are made greedily from
consecutive sentences of one `-DOCSTART-` document; a sentence is never split. Tags are
converted sentence by sentence from IOB1 to BIO before merging, so an entity can never run
across a sentence boundary. Output: `word tag` lines, a blank line after each chunk.

Usage:
    python tasks/ner/document_chunks.py ../shared/data/conll2003/eng.train runs/doc/eng.train.c96 --max-tokens 96
"""

import argparse

from nlpseq.readers._lines import iter_lines
from nlpseq.readers.conll import write_conll
from nlpseq.readers.schemes import convert_tags


def read_documents(path):
    """The documents of a CoNLL-2003 file: lists of sentences, each a list of (word, tag)."""
    documents, document, sentence = [], [], []
    for _, text in iter_lines(path, "utf-8"):
        fields = text.split()
        if not fields or fields[0] == "-DOCSTART-":
            if sentence:
                document.append(sentence)
                sentence = []
            if fields and document:  # a -DOCSTART- line ends the document before it
                documents.append(document)
                document = []
            continue
        sentence.append((fields[0], fields[-1]))
    document += [sentence] if sentence else []
    return documents + ([document] if document else [])


def chunk_document(document, max_tokens):
    """Consecutive sentences grouped greedily while a group stays within `max_tokens`."""
    chunk = []
    for sentence in document:
        if chunk and sum(map(len, chunk)) + len(sentence) > max_tokens:
            yield chunk
            chunk = []
        chunk.append(sentence)
    if chunk:
        yield chunk


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="a CoNLL-2003 file (IOB1 tags in the last column)")
    parser.add_argument("output", help="the file to write (word and BIO tag per line)")
    parser.add_argument("--max-tokens", type=int, default=96, help="the most tokens in a chunk (default 96)")
    args = parser.parse_args(argv)
    chunks = []
    for document in read_documents(args.source):
        for chunk in chunk_document(document, args.max_tokens):
            words = [w for sentence in chunk for w, _ in sentence]
            tags = [t for sentence in chunk for t in convert_tags([t for _, t in sentence], "IOB1", "BIO")]
            chunks.append((words, tags))
    write_conll(args.output, chunks, tag_sep=" ")
    print(f"{args.output}: {len(chunks)} chunks, {sum(len(w) for w, _ in chunks) / len(chunks):.1f} tokens on average")


if __name__ == "__main__":
    main()
