"""Shared pytest setup: quiet TensorFlow, and tiny corpora written into tmp dirs."""

import json
import os
import random

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from nlpseq.cli import _quiet_tensorflow  # noqa: E402 (after the environment)

# TensorFlow's C++ start-up lines would reach the terminal past pytest's capture when xdist
# runs the suite (the README's `-n 2`), so import it muted, as the CLI does.
_quiet_tensorflow()

from nlpseq.training.threads import set_intra_op_threads  # noqa: E402 (imports Keras, so TensorFlow)

# The trainers' default (training.intra_op_threads), set before TensorFlow starts as
# `nlpseq train` does, so the many in-process trainings of the suite run as users' do.
set_intra_op_threads(1)

FIRST = ["John", "Mary", "Peter", "Anna", "Lee", "Omar", "Ines", "Karl"]
LAST = ["Smith", "Jones", "Brown", "Meyer", "Kahn", "Costa"]
PLACES = ["Paris", "Berlin", "Tokyo", "Lagos", "Lima", "Oslo", "Cairo"]
ORGS = ["Reuters", "Siemens", "UNESCO", "Fiat", "Nokia"]
VERBS = ["visited", "left", "praised", "saw", "joined"]


def make_ner_sentences(n, seed=0):
    """Synthetic NER sentences (IOB1 tags like CoNLL-2003) with a learnable pattern."""
    rng = random.Random(seed)
    sentences = []
    for _ in range(n):
        words, tags = [], []
        if rng.random() < 0.5:
            words += [rng.choice(FIRST), rng.choice(LAST)]
            tags += ["I-PER", "I-PER"]
        else:
            words += [rng.choice(FIRST)]
            tags += ["I-PER"]
        verb = rng.choice(VERBS)
        words.append(verb)
        tags.append("O")
        if rng.random() < 0.5:
            words.append(rng.choice(PLACES))
            tags.append("I-LOC")
        else:
            words += ["the", rng.choice(ORGS), "office"]
            tags += ["O", "I-ORG", "O"]
        words.append(".")
        tags.append("O")
        sentences.append((words, tags))
    return sentences


def write_conll_file(path, sentences, docstart=True):
    """Writes (words, tags) pairs as a 4-column CoNLL-2003-style file."""
    lines = ["-DOCSTART- -X- O O", ""] if docstart else []
    for words, tags in sentences:
        lines += [f"{w} NN O {t}" for w, t in zip(words, tags)] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_splits(root, writer, maker, sizes, suffix):
    """Writes train/dev/test files of `sizes` sentences made by `maker`; returns their paths."""
    return {
        split: writer(root / f"{split}{suffix}", maker(size, seed=seed))
        for seed, (split, size) in enumerate(zip(("train", "dev", "test"), sizes), start=1)
    }


@pytest.fixture
def ner_files(tmp_path):
    """A tiny NER corpus: train/dev/test CoNLL files."""
    return write_splits(tmp_path, write_conll_file, make_ner_sentences, (80, 20, 20), ".txt")


def tiny_tagger_overrides(files, epochs=2):
    """`--set` overrides for a tiny, fast tagger on the `ner_files` corpus."""
    return [
        f"data.train={files['train']}", f"data.dev={files['dev']}", f"data.test={files['test']}",
        "data.scheme=IOB1", "features.word.dim=8", "features.char.dim=4", "features.char.units=6",
        "features.casing.dim=2", "encoder.units=8", f"training.epochs={epochs}", "training.batch_size=8",
        "training.learning_rate=0.01",
    ]


def train_tiny_model(root, task, files, overrides):
    """Trains a tiny tagger through the CLI into root/model; returns paths."""
    from nlpseq.cli import main

    out, work = root / "model", root / "work"
    args = ["train", task, "--output", str(out), "--work-dir", str(work), "--verbose", "0"]
    for item in overrides:
        args += ["--set", item]
    assert main(args) == 0
    return {"files": files, "out": out, "work": work}


def run_training(task, root, name, overrides, *extra):
    """`nlpseq train TASK` into root/NAME (work dir root/w-NAME); returns the exit status."""
    from nlpseq.cli import main

    args = ["train", task, "--output", str(root / name), "--work-dir", str(root / f"w-{name}"), "--verbose", "0",
            *extra]
    for item in overrides:
        args += ["--set", item]
    return main(args)


def train_stored_tagger(root, files, weights_dtype):
    """A tiny 2-epoch NER run stored with `export.weights_dtype`; returns (model dir, metrics dict)."""
    overrides = tiny_tagger_overrides(files, epochs=2) + ["features.word.dim=64", f"export.weights_dtype={weights_dtype}"]
    assert run_training("ner", root, weights_dtype, overrides) == 0
    out = root / weights_dtype
    return out, json.loads((out / "metrics.json").read_text())


def run_state(root, name):
    """The checkpointed trainer state of a `run_training` run."""
    import json

    return json.loads((root / f"w-{name}" / "checkpoints" / "state.json").read_text())


@pytest.fixture(scope="session")
def tiny_ner_model(tmp_path_factory):
    """A tiny NER model trained once per test session (about 20 s)."""
    root = tmp_path_factory.mktemp("ner")
    files = write_splits(root, write_conll_file, make_ner_sentences, (80, 20, 20), ".txt")
    return train_tiny_model(root, "ner", files, tiny_tagger_overrides(files, epochs=3))


def write_conllu_file(path, sentences):
    """Writes (words, upos) pairs as CoNLL-U, with a multiword range line to skip."""
    lines = []
    for k, (words, tags) in enumerate(sentences):
        lines.append(f"# sent_id = s{k}")
        if k == 0:
            lines.append("1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_")
        for i, (w, t) in enumerate(zip(words, tags), start=1):
            lines.append(f"{i}\t{w}\t{w.lower()}\t{t}\tXX\t_\t0\tdep\t_\t_")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_pos_sentences(n, seed=0):
    """Synthetic UPOS sentences."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = ["the", rng.choice(["dog", "cat", "bank"]), rng.choice(VERBS), rng.choice(PLACES), "."]
        out.append((words, ["DET", "NOUN", "VERB", "PROPN", "PUNCT"]))
    return out


@pytest.fixture(scope="session")
def tiny_pos_model(tmp_path_factory):
    """A tiny UPOS model (CoNLL-U data, char-BiLSTM with word-boundary markers) trained once per test session."""
    root = tmp_path_factory.mktemp("pos")
    files = write_splits(root, write_conllu_file, make_pos_sentences, (60, 10, 10), ".conllu")
    overrides = [o for o in tiny_tagger_overrides(files, epochs=2) if not o.startswith("data.scheme")]
    overrides += ["data.format=conllu", "data.scheme=null", "head.type=softmax", "features.char.type=bilstm",
                  "features.subword.type=bpe", "features.subword.vocab_size=40", "features.subword.dim=4",
                  "features.subword.pooling=mean", "features.char.boundaries=true"]
    return train_tiny_model(root, "pos", files, overrides)


SUBJECTS = ["the cat", "a dog", "my friend", "the teacher", "our neighbour"]
LM_VERBS = ["likes", "sees", "finds", "wants"]
OBJECTS = ["the ball", "a red apple", "some bread", "the old book", "fresh fish"]


def make_lm_lines(n, seed=0):
    """Synthetic sentences from a tiny grammar (subject verb object [today])."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        words = [rng.choice(SUBJECTS), rng.choice(LM_VERBS), rng.choice(OBJECTS)]
        if rng.random() < 0.3:
            words.append("today")
        lines.append(" ".join(words))
    return lines


def write_text_file(path, lines):
    path.write_text("".join(f" {line} \n" for line in lines), encoding="utf-8")  # PTB's layout
    return path


def tiny_lm_overrides(files, epochs=3):
    """`--set` overrides for a tiny, fast language model on `make_lm_lines` text."""
    return [
        f"data.train={files['train']}", f"data.dev={files['dev']}", f"data.test={files['test']}",
        "model.embedding_dim=12", "model.units=12", "model.num_layers=2", "training.batch_size=4",
        "training.bptt=6", f"training.epochs={epochs}", "training.learning_rate=0.02",
        "training.global_clipnorm=5", "training.jit_compile=false", "training.eval_batch_size=2",
    ]


@pytest.fixture(scope="session")
def tiny_lm_model(tmp_path_factory):
    """A tiny word-level language model trained once per test session."""
    root = tmp_path_factory.mktemp("lm")
    files = write_splits(root, write_text_file, make_lm_lines, (150, 20, 20), ".txt")
    return train_tiny_model(root, "lm", files, tiny_lm_overrides(files, epochs=4))


EN_DE = {"a": "ein", "the": "der", "man": "mann", "dog": "hund", "woman": "frau", "child": "kind",
         "rides": "fährt", "sees": "sieht", "finds": "findet", "bike": "rad", "ball": "ball", "car": "auto",
         "red": "rotes", "big": "großes"}


def make_parallel_pairs(n, seed=0):
    """Synthetic English -> 'German' pairs: word-for-word, with the adjective moved after the noun."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        subject = [rng.choice(["a", "the"]), rng.choice(["man", "dog", "woman", "child"])]
        verb = rng.choice(["rides", "sees", "finds"])
        obj = [rng.choice(["a", "the"]), rng.choice(["red", "big"]), rng.choice(["bike", "ball", "car"])]
        source = subject + [verb] + obj
        target = [EN_DE[w] for w in subject + [verb] + [obj[0], obj[2], obj[1]]]
        pairs.append((" ".join(source) + " .", " ".join(target) + " ."))
    return pairs


def write_parallel_splits(root, sizes=(200, 20, 20)):
    """Writes train/dev/test .en/.de files (test gzipped); returns {split: (source, target)} paths."""
    import gzip

    files = {}
    for seed, (split, size) in enumerate(zip(("train", "dev", "test"), sizes), start=1):
        pairs = make_parallel_pairs(size, seed=seed)
        paths = []
        for side, lang in enumerate(("en", "de")):
            text = "".join(p[side] + "\n" for p in pairs)
            if split == "test":
                path = root / f"{split}.{lang}.gz"
                with gzip.open(path, "wt", encoding="utf-8") as f:
                    f.write(text)
            else:
                path = root / f"{split}.{lang}"
                path.write_text(text, encoding="utf-8")
            paths.append(path)
        files[split] = tuple(paths)
    return files


def tiny_translation_overrides(files, epochs=3):
    """`--set` overrides for a tiny, fast translation model on `make_parallel_pairs` text."""
    data = [f"data.{split}_{side}={files[split][i]}" for split in files for i, side in enumerate(("source", "target"))]
    return data + [
        "tokenizer.type=word", "model.embedding_dim=16", "model.encoder_units=16", "model.decoder_units=24",
        "model.dropout=0.1", f"training.epochs={epochs}", "training.batch_size=16",
        "training.learning_rate=0.01", "decoding.beam_size=3",
    ]


@pytest.fixture(scope="session")
def tiny_translation_model(tmp_path_factory):
    """A tiny word-level translation model trained once per test session."""
    root = tmp_path_factory.mktemp("mt")
    files = write_parallel_splits(root)
    return train_tiny_model(root, "translation", files, tiny_translation_overrides(files, epochs=6))
