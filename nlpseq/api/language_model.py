"""`LanguageModel`: the Python API over an exported language-model directory."""

import random
from pathlib import Path

from nlpseq.checks import is_whole_number
from nlpseq.errors import InputError
from nlpseq.export.model_dir import load_saved_model

STRATEGIES = ("greedy", "sample", "top_k", "top_p", "beam")


def _check_params(strategy, max_new_tokens, temperature, top_k, top_p, beam_size):
    """One-line errors for generation arguments (before anything runs)."""
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r} (choose {', '.join(STRATEGIES)})")
    if not is_whole_number(max_new_tokens, minimum=None):  # the sign is checked next
        raise InputError(f"max_new_tokens must be an int, got {max_new_tokens!r}")
    if max_new_tokens < 0:
        raise InputError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    if not temperature > 0:
        raise InputError(f"temperature must be > 0, got {temperature}")
    if not 0 < top_p <= 1:
        raise InputError(f"top_p must be in (0, 1], got {top_p}")
    if not is_whole_number(top_k, minimum=0):
        raise InputError(f"top_k must be an int >= 0 (0 = off), got {top_k!r}")
    if strategy == "top_k" and top_k == 0:
        raise InputError("strategy 'top_k' needs top_k >= 1")
    if not is_whole_number(beam_size):
        raise InputError(f"beam_size must be an int >= 1, got {beam_size!r}")


class LanguageModel:
    """Generates and scores text with a trained language model.

    It runs the model directory's SavedModel: tokenization, the prompt pass,
    the token-by-token decode loop (state carried, prefix never re-read) and
    detokenization are one compiled graph per strategy, traced at export and
    reused by every call.

    Example:
        >>> from nlpseq import LanguageModel
        >>> lm = LanguageModel.load("saved_models/lm-ptb")
        >>> lm.generate("the company said", max_new_tokens=30, strategy="top_p", top_p=0.9,
        ...             temperature=0.8, seed=1)
        'the company said it expects ...'
        >>> lm.score("the company said it expects higher earnings")
        {'log_prob': -38.2, 'perplexity': 68.5, 'tokens': 8, 'words': 8}
    """

    def __init__(self, path, config, saved_model):
        self.path = Path(path)
        self.config = config
        self._saved = saved_model

    def _check_left_to_right(self):
        # A right-to-left model (data.reverse) serves as a tagger feature; its exported
        # signatures would read prompts in the wrong direction.
        if self.config.get("data", {}).get("reverse"):
            raise InputError(f"{self.path} is a right-to-left language model (data.reverse: true), made as a "
                             "tagger feature: generation and scoring read left to right")

    @classmethod
    def load(cls, path):
        """Loads a model directory written by `nlpseq train lm`.

        Args:
            path: the model directory.

        Returns:
            A LanguageModel.

        Raises:
            ModelDirError: the directory is missing, incomplete or not a language model.
        """
        config, saved = load_saved_model(path, kinds=("lm",))
        return cls(path, config, saved)

    def generate(self, prompt, max_new_tokens=30, strategy="greedy", *, temperature=1.0, top_k=0, top_p=1.0,
                 beam_size=5, length_penalty=0.0, seed=None, return_full_text=True):
        """Continues one prompt.

        Args:
            prompt: the text to continue ("" starts a new sentence).
            max_new_tokens: the most tokens to add; generation also stops at
                the end of the sentence (`<eos>`). 0 returns the prompt.
            strategy: "greedy", "sample" (temperature sampling), "top_k",
                "top_p" (nucleus) or "beam".
            temperature: divides the logits before sampling (> 0; < 1 sharper).
            top_k: for sampling, keep the k most likely tokens (0 = all).
            top_p: for sampling, keep the smallest set of tokens holding this
                much probability (1 = all).
            beam_size: beams for "beam".
            length_penalty: GNMT length-normalization exponent for "beam" (0 = none).
            seed: makes sampling reproducible (None: a random seed).
            return_full_text: prefix the prompt to the continuation.

        Returns:
            The generated text.
        """
        if not isinstance(prompt, str):
            raise InputError(f"prompt must be a str, got {type(prompt).__name__} (use generate_batch for lists)")
        return self.generate_batch([prompt], max_new_tokens, strategy, temperature=temperature, top_k=top_k,
                                   top_p=top_p, beam_size=beam_size, length_penalty=length_penalty, seed=seed,
                                   return_full_text=return_full_text)[0]

    def generate_batch(self, prompts, max_new_tokens=30, strategy="greedy", *, temperature=1.0, top_k=0,
                       top_p=1.0, beam_size=5, length_penalty=0.0, seed=None, return_full_text=True):
        """Continues many prompts in one batch; arguments as in `generate`.

        Returns:
            list of generated texts, aligned with `prompts`.
        """
        import tensorflow as tf

        if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
            raise InputError("generate_batch expects a list of strings")
        _check_params(strategy, max_new_tokens, temperature, top_k, top_p, beam_size)
        self._check_left_to_right()
        prompts = list(prompts)
        if not prompts:
            return []
        batch = tf.constant(prompts, tf.string)
        steps = tf.constant(max_new_tokens, tf.int32)
        if strategy == "greedy":
            out = self._saved.generate_greedy(batch, steps)
        elif strategy == "beam":
            out = self._saved.generate_beam(batch, steps, tf.constant(beam_size, tf.int32),
                                            tf.constant(float(length_penalty), tf.float32))
        else:
            # "sample", "top_k" and "top_p" are one sampler; the filters apply as given.
            seed = random.randrange(2**31 - 1) if seed is None else int(seed)
            out = self._saved.generate_sample(batch, steps, tf.constant(float(temperature), tf.float32),
                                              tf.constant(int(top_k), tf.int32),
                                              tf.constant(float(top_p), tf.float32), tf.constant(seed, tf.int32))
        texts = [t.decode("utf-8") for t in out["texts"].numpy()]
        if not return_full_text:
            return texts
        return [" ".join(part for part in (p.strip(), t) if part) for p, t in zip(prompts, texts)]

    def score(self, text):
        """Log-probability of a text as a sentence (ending in `<eos>`).

        Args:
            text: one sentence.

        Returns:
            dict: `log_prob` (natural log, the sentence and its `<eos>`),
            `tokens` (model tokens scored, `<eos>` included), `words`
            (whitespace words + 1 for `<eos>`) and `perplexity` (per word).
        """
        if not isinstance(text, str):
            raise InputError(f"text must be a str, got {type(text).__name__}")
        return self.score_batch([text])[0]

    def score_batch(self, texts, batch_size=64):
        """`score` for many texts; returns a list of dicts aligned with `texts`."""
        import tensorflow as tf

        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise InputError("score_batch expects a list of strings")
        self._check_left_to_right()
        results = []
        for start in range(0, len(texts), batch_size):
            out = self._saved.score(tf.constant(list(texts[start:start + batch_size]), tf.string))
            arrays = {k: v.numpy() for k, v in out.items()}
            for i in range(len(arrays["tokens"])):
                results.append({"log_prob": float(arrays["log_prob"][i]), "perplexity": float(arrays["perplexity"][i]),
                                "tokens": int(arrays["tokens"][i]), "words": int(arrays["words"][i])})
        return results
