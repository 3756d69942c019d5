"""Bad input through the Python API and the CLI: a correct result or one clear line, never a traceback."""

import pytest

from nlpseq import InputError, ModelDirError, Tagger
from nlpseq.cli import main


@pytest.fixture(scope="module")
def tagger(tiny_ner_model):
    return Tagger.load(tiny_ner_model["out"])


def test_empty_and_whitespace_text_give_no_words(tagger):
    assert tagger.tag("") == []
    assert tagger.tag(" \t\n\u00a0 ") == []
    assert tagger.tag_batch(["", "Mary left .", "   "])[0] == []
    assert tagger.tag_batch([]) == []
    assert tagger.tag_batch([[]]) == [[]]
    assert tagger.entities("") == []


def test_ten_thousand_words(tagger):
    text = " ".join(["Mary visited Paris ."] * 2500)
    pairs = tagger.tag(text)
    assert len(pairs) == 10000
    assert pairs[-1][0] == "."


def test_control_characters_act_as_whitespace(tagger):
    pairs = tagger.tag("Mary\x00visited\x07Paris\x1b.")
    assert [w for w, _ in pairs] == ["Mary", "visited", "Paris", "."]
    spans = tagger.entities("Mary\x00visited\x07Paris")
    for span in spans:
        assert span["text"] in ("Mary", "Paris")


def test_unseen_characters_and_scripts(tagger):
    pairs = tagger.tag("Zoë 東京 🙂 Ωmega")
    assert [w for w, _ in pairs] == ["Zoë", "東京", "🙂", "Ωmega"]


@pytest.mark.parametrize("bad", [None, 42, ["ok", 3], [["a", ""]], [["a b"]]])
def test_wrong_types_are_input_errors(tagger, bad):
    with pytest.raises(InputError):
        if isinstance(bad, list):
            tagger.tag_batch(bad)
        else:
            tagger.tag(bad)


def test_tag_batch_rejects_a_bare_string(tagger):
    with pytest.raises(InputError, match="list"):
        tagger.tag_batch("Mary left")


def test_missing_and_wrong_model_directories(tmp_path, tiny_ner_model):
    with pytest.raises(ModelDirError, match="not found"):
        Tagger.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelDirError, match="missing"):
        Tagger.load(tmp_path / "empty")
    with pytest.raises(ModelDirError, match="not found"):
        Tagger.load(tiny_ner_model["files"]["train"])  # a file, not a directory


def test_corrupt_saved_model_is_a_model_dir_error(tmp_path, tiny_ner_model):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_ner_model["out"], copy)
    (copy / "saved_model" / "saved_model.pb").write_bytes(b"not a protobuf")
    with pytest.raises(ModelDirError, match="cannot load"):
        Tagger.load(copy)


def test_cli_errors_are_one_line(tmp_path, capsys, tiny_ner_model):
    assert main(["tag", str(tmp_path / "nope"), "Mary left ."]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: model directory not found") and "\n" not in err

    bad = tmp_path / "bad.conll"
    bad.write_text("Mary NN O I-PER\nleft NN O\n", encoding="utf-8")
    assert main(["evaluate", str(tiny_ner_model["out"]), str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{bad}:2:" in err and "columns" in err and "\n" not in err

    assert main(["tag", str(tiny_ner_model["out"])]) == 2  # neither text nor --input
    assert "error:" in capsys.readouterr().err

    missing = tmp_path / "missing.txt"
    assert main(["tag", str(tiny_ner_model["out"]), "--input", str(missing)]) == 2
    assert "file not found" in capsys.readouterr().err
