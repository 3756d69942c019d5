"""Progress counts of long batch calls: on standard error, on a terminal only, results unchanged."""

import io
import sys

from nlpseq import Tagger, Translator
from nlpseq.api.progress import Progress
from nlpseq.cli import main
from nlpseq.readers import read_conll


def test_progress_redraws_one_line_and_ends_it():
    stream = io.StringIO()
    counter = Progress(5, "sentences", True, stream)
    counter.advance(3)
    counter.advance(2)
    counter.close()
    lines = stream.getvalue().split("\r")
    assert lines[0] == "" and lines[1].startswith("  3/5 sentences  ") and lines[2].startswith("  5/5 sentences  ")
    assert stream.getvalue().endswith("/s\n")
    for enabled, total in ((False, 5), (True, 0)):
        quiet = io.StringIO()
        counter = Progress(total, "sentences", enabled, quiet)
        counter.advance(5)
        counter.close()
        assert quiet.getvalue() == ""


def test_tag_batch_counts_sentences_only_when_asked(tiny_ner_model, capsys):
    tagger = Tagger.load(tiny_ner_model["out"])
    sentences = [list(s.words) for s in read_conll(tiny_ner_model["files"]["test"])] + ["Mary left Oslo ."]
    capsys.readouterr()
    quiet = tagger.tag_batch(sentences, batch_size=8)
    assert capsys.readouterr().err == ""
    counted = tagger.tag_batch(sentences, batch_size=8, progress=True)
    err = capsys.readouterr().err
    assert counted == quiet
    assert f"\r  {len(sentences)}/{len(sentences)} sentences" in err and err.count("\r") >= 3  # 21 items, 8 a call


def test_cli_draws_progress_on_a_terminal_only(tiny_ner_model, tmp_path, capsys, monkeypatch):
    source = tmp_path / "in.txt"
    source.write_text("Mary visited Oslo .\nKarl left .\n", encoding="utf-8")
    args = ["tag", str(tiny_ner_model["out"]), "--input", str(source), "--format", "text"]
    capsys.readouterr()
    assert main(args) == 0
    piped = capsys.readouterr()
    assert piped.err == "" and piped.out.startswith("Mary\t")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(args) == 0
    terminal = capsys.readouterr()
    assert terminal.out == piped.out  # the tags stay clean on standard output
    assert "\r  2/2 sentences" in terminal.err
    # --output is written whole, through a temporary name.
    assert main(args + ["--output", str(tmp_path / "out.tsv")]) == 0
    assert (tmp_path / "out.tsv").read_text(encoding="utf-8") == piped.out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.tsv"]


def test_translate_batch_counts_sentences(tiny_translation_model, capsys):
    translator = Translator.load(tiny_translation_model["out"])
    texts = ["the man sees a red car .", "a woman rides the big bike .", "the dog ."]
    capsys.readouterr()
    quiet = translator.translate_batch(texts, beam_size=2, batch_size=2)
    assert capsys.readouterr().err == ""
    assert translator.translate_batch(texts, beam_size=2, batch_size=2, progress=True) == quiet
    err = capsys.readouterr().err
    assert "\r  2/3 sentences" in err and "\r  3/3 sentences" in err
