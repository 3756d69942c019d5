"""Document-level entity consistency: the rules on hand-made tags, the CoNLL document reader,
`Tagger.tag_document` and the `--documents` options of `nlpseq evaluate` and `nlpseq tag`."""

import json

import pytest

from nlpseq.cli import main
from nlpseq.decoding.entity_consistency import harmonize_document, harmonize_documents
from nlpseq.errors import InputError
from nlpseq.readers import convert_tags, document_ids, read_conll, read_tokens_file


def test_majority_type_wins():
    doc = [(["Jordan", "won"], ["S-PER", "O"]),
           (["Jordan", "lost"], ["S-PER", "O"]),
           (["Jordan", "said"], ["S-LOC", "O"])]
    assert harmonize_document(doc, "IOBES") == [["S-PER", "O"]] * 3


def test_a_tie_changes_nothing():
    doc = [(["Jordan", "won"], ["S-PER", "O"]), (["Jordan", "said"], ["S-LOC", "O"])]
    assert harmonize_document(doc, "IOBES") == [tags for _, tags in doc]


def test_missed_capitalized_mentions_are_tagged_longest_first():
    doc = [(["New", "York", "Times", "wrote"], ["B-ORG", "I-ORG", "I-ORG", "O"]),
           (["New", "York", "won"], ["B-LOC", "I-LOC", "O"]),
           (["the", "New", "York", "Times", "and", "New", "York"], ["O"] * 7)]
    assert harmonize_document(doc, "BIO")[2] == ["O", "B-ORG", "I-ORG", "I-ORG", "O", "B-LOC", "I-LOC"]


def test_lowercase_words_and_tagged_words_stay():
    doc = [(["US", "troops"], ["I-LOC", "O"]),
           (["us", "and", "US"], ["O", "O", "I-ORG"])]
    # "us" is lower-case; "US" is already tagged (ORG once, LOC once: a tie) - nothing changes.
    assert harmonize_document(doc, "IOB1") == [["I-LOC", "O"], ["O", "O", "I-ORG"]]


def test_tags_come_back_in_the_scheme_given():
    doc = [(["Ann", "Lee", "met", "Bo"], ["I-PER", "I-PER", "O", "I-PER"]),
           (["Ann", "Lee", "left"], ["O", "O", "O"])]
    assert harmonize_document(doc, "IOB1")[1] == ["I-PER", "I-PER", "O"]
    assert harmonize_document([(w, ["O"] * len(w)) for w, _ in doc], "IOB1")[1] == ["O", "O", "O"]


def test_documents_are_harmonized_separately():
    sentences = [(["Jordan"], ["S-PER"]), (["Jordan"], ["S-PER"]), (["Jordan"], ["S-LOC"])]
    assert harmonize_documents(sentences, [0, 0, 1], "IOBES") == [["S-PER"], ["S-PER"], ["S-LOC"]]
    assert harmonize_documents(sentences, [0, 0, 0], "IOBES") == [["S-PER"]] * 3
    with pytest.raises(ValueError, match="2 document ids for 3 sentences"):
        harmonize_documents(sentences, [0, 0], "IOBES")


def test_document_ids_follow_docstart_lines(tmp_path):
    path = tmp_path / "docs.conll"
    path.write_text("-DOCSTART- -X- O O\n\nA x O I-PER\n\nB x O O\n-DOCSTART- -X- O O\nC x O O\n\n\n"
                    "-DOCSTART- -X- O O\n\nD x O O\n", encoding="utf-8")
    assert document_ids(path) == [1, 1, 2, 3]
    assert len(read_conll(path)) == len(read_tokens_file(path)) == 4
    plain = tmp_path / "plain.conll"
    plain.write_text("A I-PER\n\nB O\n", encoding="utf-8")
    assert document_ids(plain) == [0, 0]


def _document_file(path):
    """Two CoNLL-2003-style documents that name the same people and places."""
    docs = [[["Mary", "visited", "Oslo", "."], ["Oslo", "praised", "Mary", "."], ["Karl", "left", "Oslo", "."]],
            [["Tokyo", "saw", "Karl", "."], ["Karl", "joined", "the", "Fiat", "office", "."]]]
    lines = []
    for doc in docs:
        lines += ["-DOCSTART- -X- O O", ""]
        for words in doc:
            tags = {"Mary": "I-PER", "Karl": "I-PER", "Oslo": "I-LOC", "Tokyo": "I-LOC", "Fiat": "I-ORG"}
            lines += [f"{w} NN O {tags.get(w, 'O')}" for w in words] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_tag_document_is_tag_batch_then_harmonized(tiny_ner_model, tiny_pos_model):
    from nlpseq import Tagger

    tagger = Tagger.load(tiny_ner_model["out"])
    sentences = ["Mary visited Oslo .", ["Oslo", "praised", "Mary", "."], "Karl left Oslo ."]
    rows = tagger.tag_batch(sentences)
    expected = harmonize_document([([w for w, _ in r], [t for _, t in r]) for r in rows], tagger.scheme)
    got = tagger.tag_document(sentences)
    assert [[w for w, _ in r] for r in got] == [[w for w, _ in r] for r in rows]
    assert [[t for _, t in r] for r in got] == expected
    # Whatever the tiny model predicts, tag_document harmonizes what tag_batch gives.
    fixed = [[("Jordan", "S-PER"), ("won", "O")], [("Jordan", "S-PER")], [("Jordan", "S-LOC"), ("said", "O")]]
    tagger.tag_batch = lambda items, **_: fixed
    assert [[t for _, t in r] for r in tagger.tag_document(["x"] * 3)] == [["S-PER", "O"], ["S-PER"], ["S-PER", "O"]]
    with pytest.raises(InputError, match="needs an NER model"):
        Tagger.load(tiny_pos_model["out"]).tag_document(["a b"])


def test_cli_documents_options(tiny_ner_model, tiny_pos_model, tmp_path, capsys):
    from nlpseq import Tagger
    from nlpseq.training.evaluation import score_tagging

    data = _document_file(tmp_path / "docs.conll")
    tagger = Tagger.load(tiny_ner_model["out"])
    words = read_tokens_file(data)
    predicted = [[t for _, t in r] for r in tagger.tag_batch(words)]
    harmonized = harmonize_documents(list(zip(words, predicted)), document_ids(data), tagger.scheme)
    gold = [convert_tags(list(s.tags), "IOB1", tagger.scheme) for s in read_conll(data)]
    expected = score_tagging("ner", gold, harmonized, tagger.scheme)
    assert harmonized != predicted  # the fixture's model leaves mentions to harmonize here

    assert main(["evaluate", str(tiny_ner_model["out"]), str(data), "--documents"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["documents"] is True and result["f1"] == pytest.approx(expected["f1"])

    target = tmp_path / "out.tsv"
    assert main(["tag", str(tiny_ner_model["out"]), "--input", str(data), "--documents", "--output", str(target)]) == 0
    blocks = [b.splitlines() for b in target.read_text(encoding="utf-8").strip().split("\n\n")]
    assert [[line.split("\t")[1] for line in b] for b in blocks] == harmonized

    capsys.readouterr()
    assert main(["evaluate", str(tiny_pos_model["out"]), str(data), "--documents"]) == 2
    assert "--documents is for NER models" in capsys.readouterr().err
    assert main(["tag", str(tiny_ner_model["out"]), "Mary left .", "--documents"]) == 2
    assert "--documents needs --input FILE" in capsys.readouterr().err
