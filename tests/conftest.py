"""Shared pytest setup: quiet TensorFlow, and tiny corpora written into tmp dirs."""

import os
import random

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

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


@pytest.fixture
def ner_files(tmp_path):
    """A tiny NER corpus: train/dev/test CoNLL files."""
    return {
        "train": write_conll_file(tmp_path / "train.txt", make_ner_sentences(80, seed=1)),
        "dev": write_conll_file(tmp_path / "dev.txt", make_ner_sentences(20, seed=2)),
        "test": write_conll_file(tmp_path / "test.txt", make_ner_sentences(20, seed=3)),
    }


def tiny_tagger_overrides(files, epochs=2):
    """`--set` overrides for a tiny, fast tagger on the `ner_files` corpus."""
    return [
        f"data.train={files['train']}", f"data.dev={files['dev']}", f"data.test={files['test']}",
        "data.scheme=IOB1", "features.word.dim=8", "features.char.dim=4", "features.char.units=6",
        "features.casing.dim=2", "encoder.units=8", f"training.epochs={epochs}", "training.batch_size=8",
        "training.learning_rate=0.01",
    ]
