"""A tiny language model trained through the CLI: model directory, SavedModel, API, evaluate, generate."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from nlpseq import LanguageModel
from nlpseq.cli import main
from nlpseq.errors import InputError, ModelDirError
from nlpseq.tokenizers.text_encoder import TextEncoder


@pytest.fixture(scope="module")
def lm(tiny_lm_model):
    return LanguageModel.load(tiny_lm_model["out"])


@pytest.fixture(scope="module")
def keras_lm(tiny_lm_model):
    import nlpseq.models  # noqa: F401  (registers the model class)

    out = tiny_lm_model["out"]
    return keras.models.load_model(out / "model.keras", compile=False), TextEncoder.load(out / "assets")


def naive_greedy(model, encoder, prompt, steps):
    """Greedy decoding that re-reads the whole prefix at every step (the reference)."""
    ids = [encoder.eos_id] + encoder.encode(prompt)
    out = []
    for _ in range(steps):
        logits = np.array(model(np.array([ids], "int32")))[0, -1]
        logits[[encoder.pad_id, encoder.bos_id]] = -np.inf
        nxt = int(np.argmax(logits))
        if nxt == encoder.eos_id:
            break
        out.append(nxt)
        ids.append(nxt)
    return encoder.decode(out)


def test_model_directory_is_complete_and_learned(tiny_lm_model):
    out = tiny_lm_model["out"]
    for name in ("model.keras", "saved_model", "assets", "config.yaml", "metrics.json", "README.md"):
        assert (out / name).exists(), name
    metrics = json.loads((out / "metrics.json").read_text())
    vocab = TextEncoder.load(out / "assets").vocab_size
    # The grammar has ~5 choices per slot; a model that learned nothing sits near the vocabulary size.
    assert metrics["test_perplexity"] < vocab / 3
    assert metrics["test_tokens"] == sum(len(l.split()) + 1 for l in tiny_lm_model["files"]["test"].read_text().splitlines())
    card = (out / "README.md").read_text()
    assert "test_perplexity" in card and "nlpseq train lm" in card


def test_greedy_equals_naive_prefix_recomputation(lm, keras_lm):
    model, encoder = keras_lm
    for prompt in ["the cat", "", "my friend wants"]:
        expected = naive_greedy(model, encoder, prompt, 8)
        assert lm.generate(prompt, max_new_tokens=8, return_full_text=False) == expected


def test_batched_prompts_of_different_lengths_match_single_calls(lm):
    prompts = ["the cat likes", "a", "our neighbour finds the old"]
    batch = lm.generate_batch(prompts, max_new_tokens=6, strategy="greedy")
    assert batch == [lm.generate(p, max_new_tokens=6) for p in prompts]
    assert batch[0].startswith("the cat likes")


def test_sampling_is_seeded_and_strategies_run(lm):
    kwargs = dict(max_new_tokens=12, strategy="sample", temperature=3.0)
    a = lm.generate_batch(["the"] * 4, seed=7, **kwargs)
    assert a == lm.generate_batch(["the"] * 4, seed=7, **kwargs)
    assert a != lm.generate_batch(["the"] * 4, seed=8, **kwargs)
    assert lm.generate("the", max_new_tokens=12, strategy="top_k", top_k=1, seed=3) == lm.generate(
        "the", max_new_tokens=12)  # top-1 sampling is greedy
    for strategy in ("top_k", "top_p"):
        text = lm.generate("a dog", max_new_tokens=10, strategy=strategy, top_k=3, top_p=0.8, seed=1)
        assert text.startswith("a dog")


def test_beam_search_of_size_one_is_greedy_and_beams_score_well(lm, keras_lm):
    greedy = lm.generate("the teacher", max_new_tokens=8)
    assert lm.generate("the teacher", max_new_tokens=8, strategy="beam", beam_size=1) == greedy
    beam = lm.generate("the teacher", max_new_tokens=8, strategy="beam", beam_size=5, return_full_text=False)
    assert lm.score("the teacher " + beam)["log_prob"] >= lm.score(greedy)["log_prob"] - 1e-4


def test_max_new_tokens_is_respected(lm):
    assert lm.generate("the cat", max_new_tokens=0) == "the cat"
    out = lm.generate_batch(["the", ""], max_new_tokens=2, strategy="sample", temperature=5.0, seed=1,
                            return_full_text=False)
    assert all(len(t.split()) <= 2 for t in out)


def test_score_matches_the_keras_model(lm, keras_lm):
    model, encoder = keras_lm
    text = "the cat sees a red apple"
    ids = [encoder.eos_id] + encoder.encode(text) + [encoder.eos_id]
    logp = tf.nn.log_softmax(model(np.array([ids[:-1]], "int32"))[0]).numpy()
    expected = sum(logp[t, ids[t + 1]] for t in range(len(ids) - 1))
    result = lm.score(text)
    assert result["log_prob"] == pytest.approx(expected, rel=1e-4)
    assert result["tokens"] == result["words"] == 7
    assert result["perplexity"] == pytest.approx(np.exp(-expected / 7), rel=1e-4)
    batch = lm.score_batch([text, "a dog"])
    assert batch[0]["log_prob"] == pytest.approx(result["log_prob"], rel=1e-5)


def test_bad_input_gives_a_result_or_one_clear_error(lm):
    assert lm.generate("", max_new_tokens=5)  # a new sentence
    unknown = lm.generate("zzz qqq", max_new_tokens=5, return_full_text=False)
    assert isinstance(unknown, str)
    assert lm.generate_batch([]) == []
    bad = [
        (dict(max_new_tokens=-1), "max_new_tokens must be >= 0"),
        (dict(strategy="top_p", top_p=0.0), r"top_p must be in \(0, 1\]"),
        (dict(strategy="top_p", top_p=1.5), r"top_p must be in \(0, 1\]"),
        (dict(strategy="sample", temperature=0.0), "temperature must be > 0"),
        (dict(strategy="beam", beam_size=0), "beam_size must be an int >= 1"),
        (dict(strategy="nucleus"), "unknown strategy"),
        (dict(max_new_tokens=2.5), "max_new_tokens must be an int"),
    ]
    for kwargs, message in bad:
        with pytest.raises(InputError, match=message):
            lm.generate("the cat", **kwargs)
    with pytest.raises(InputError, match="prompt must be a str"):
        lm.generate(["the cat"])
    with pytest.raises(ModelDirError, match="holds a 'lm' model"):
        from nlpseq import Tagger

        Tagger.load(lm.path)


def test_evaluate_and_generate_cli(tiny_lm_model, capsys):
    out, files = tiny_lm_model["out"], tiny_lm_model["files"]
    assert main(["evaluate", str(out), str(files["test"])]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    metrics = json.loads((out / "metrics.json").read_text())
    assert last["task"] == "lm" and last["tokens"] == metrics["test_tokens"]
    assert last["perplexity"] == pytest.approx(metrics["test_perplexity"], rel=1e-4)
    # A run's work dir scores its best checkpoint: the same weights as the exported model.
    assert main(["evaluate", str(tiny_lm_model["work"]), str(files["test"])]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["perplexity"] == pytest.approx(last["perplexity"], rel=1e-4)
    assert main(["generate", str(out), "the cat", "--strategy", "beam", "--max-new-tokens", "4"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith("the cat")
    assert main(["generate", str(out), "the cat", "--strategy", "top_p", "--top-p", "2"]) == 2
    assert "top_p must be in (0, 1]" in capsys.readouterr().err


def test_decode_functions_are_traced_once_for_all_shapes_and_parameters(keras_lm):
    from nlpseq.export.lm_saved_model import LMGenerator

    model, encoder = keras_lm
    generator = LMGenerator(model, encoder)
    for prompts, steps, temperature, top_k, top_p, seed in [(["the cat"], 3, 1.0, 0, 1.0, 1),
                                                           (["a", "my friend likes", ""], 7, 0.7, 3, 0.9, 2)]:
        generator.generate_sample(tf.constant(prompts), tf.constant(steps), tf.constant(temperature),
                                  tf.constant(top_k), tf.constant(top_p), tf.constant(seed))
        generator.generate_beam(tf.constant(prompts), tf.constant(steps), tf.constant(2), tf.constant(0.5))
    assert generator.generate_sample.experimental_get_tracing_count() == 1
    assert generator.generate_beam.experimental_get_tracing_count() == 1
