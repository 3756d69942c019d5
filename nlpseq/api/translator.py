"""`Translator`: the Python API over an exported translation model directory."""

from pathlib import Path

from nlpseq.api.progress import Progress
from nlpseq.checks import is_whole_number
from nlpseq.errors import InputError
from nlpseq.export.model_dir import load_saved_model


def _check_beam(beam_size, n_best):
    for name, value in (("beam_size", beam_size), ("n_best", n_best)):
        if not is_whole_number(value):
            raise InputError(f"{name} must be an int >= 1, got {value!r}")
    if n_best > beam_size:
        raise InputError(f"n_best ({n_best}) cannot exceed beam_size ({beam_size})")


class Translator:
    """Translates text with a trained seq2seq model.

    It runs the model directory's SavedModel: SentencePiece tokenization, the
    encoder, beam search (or greedy search) and detokenization are one graph,
    traced at export and reused by every call.

    Example:
        >>> from nlpseq import Translator
        >>> tr = Translator.load("saved_models/mt-multi30k-en-de")
        >>> tr.translate("A man is riding a bicycle.", beam_size=5)
        'Ein Mann fährt Fahrrad.'
    """

    def __init__(self, path, config, saved_model):
        self.path = Path(path)
        self.config = config
        self._saved = saved_model
        self._keras = None

    @classmethod
    def load(cls, path):
        """Loads a model directory written by `nlpseq train translation`.

        Raises:
            ModelDirError: the directory is missing, incomplete or not a translation model.
        """
        config, saved = load_saved_model(path, kinds=("translation",))
        return cls(path, config, saved)

    def translate(self, text, beam_size=5, length_penalty=0.6, n_best=1):
        """Translates one sentence.

        Args:
            text: the source sentence ("" gives "").
            beam_size: beams (1 = greedy search).
            length_penalty: GNMT length-penalty exponent (0 = none).
            n_best: > 1 returns the n best translations with their scores.

        Returns:
            The translation, or with `n_best` > 1 a list of (translation, score) pairs, best first.
        """
        if not isinstance(text, str):
            raise InputError(f"text must be a str, got {type(text).__name__} (use translate_batch for lists)")
        return self.translate_batch([text], beam_size=beam_size, length_penalty=length_penalty, n_best=n_best)[0]

    def translate_batch(self, texts, beam_size=5, length_penalty=0.6, n_best=1, batch_size=64, progress=False):
        """Translates many sentences; arguments as in `translate`.

        Sentences are sorted by length and translated `batch_size` at a time
        (less padding), and returned in input order. `progress=True` draws a
        count of the translated sentences on standard error.
        """
        import tensorflow as tf

        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise InputError("translate_batch expects a list of strings")
        _check_beam(beam_size, n_best)
        texts = list(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        results = [None] * len(texts)
        counter = Progress(len(texts), "sentences", progress)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            batch = tf.constant([texts[i] for i in chunk], tf.string)
            if beam_size == 1 and n_best == 1:
                out = self._saved.translate_greedy(batch)
                rows = [t.decode("utf-8") for t in out["translations"].numpy()]
            else:
                out = self._saved.translate(batch, tf.constant(beam_size, tf.int32),
                                            tf.constant(float(length_penalty), tf.float32))
                if n_best == 1:
                    rows = [t.decode("utf-8") for t in out["translations"].numpy()]
                else:
                    nbest, scores = out["nbest"].numpy(), out["nbest_scores"].numpy()
                    rows = [[(t.decode("utf-8"), float(s)) for t, s in zip(nbest[r, :n_best], scores[r, :n_best])]
                            for r in range(len(chunk))]
            for i, row in zip(chunk, rows):
                results[i] = row
            counter.advance(len(chunk))
        counter.close()
        return results

    def attention(self, text, translation=None):
        """Attention weights of one sentence pair.

        Args:
            text: the source sentence.
            translation: the target sentence; None translates `text` first (beam 5).

        Returns:
            dict: `source_tokens`, `target_tokens` (pieces, the target ending in
            the end-of-sentence token) and `weights`, a len(target_tokens) x
            len(source_tokens) nested list whose rows sum to 1.
        """
        import numpy as np

        if not isinstance(text, str):
            raise InputError(f"text must be a str, got {type(text).__name__}")
        model, source_encoder, target_encoder = self._keras_model()
        translation = self.translate(text) if translation is None else translation
        source = source_encoder.encode(text) + [source_encoder.eos_id]
        target = target_encoder.encode(translation)
        target_in = np.array([[target_encoder.bos_id] + target], "int32")
        weights = np.asarray(model.attention_weights(np.array([source], "int32"), target_in))[0]
        return {"source_tokens": [source_encoder.id_to_token(i) for i in source],
                "target_tokens": [target_encoder.id_to_token(i) for i in target + [target_encoder.eos_id]],
                "weights": weights.tolist()}

    def _keras_model(self):
        if self._keras is None:
            import keras

            import nlpseq.models  # noqa: F401  (registers the model class)
            from nlpseq.tokenizers.text_encoder import TextEncoder

            model = keras.models.load_model(self.path / "model.keras", compile=False)
            self._keras = (model, TextEncoder.load(self.path / "assets", "source"),
                           TextEncoder.load(self.path / "assets", "target"))
        return self._keras
