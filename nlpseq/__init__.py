"""nlpseq: recurrent sequence models (tagging, language modeling, translation) in Keras 3."""

__version__ = "0.1.0"

from nlpseq.errors import ConfigError, DataError, InputError, ModelDirError, NlpseqError


def __getattr__(name):
    # The API classes import TensorFlow; load them lazily so `import nlpseq`
    # (and the readers, which need no TensorFlow) stays fast.
    if name == "Tagger":
        from nlpseq.api.tagger import Tagger

        return Tagger
    if name == "LanguageModel":
        from nlpseq.api.language_model import LanguageModel

        return LanguageModel
    if name == "Translator":
        from nlpseq.api.translator import Translator

        return Translator
    raise AttributeError(f"module 'nlpseq' has no attribute {name!r}")


__all__ = ["Tagger", "LanguageModel", "Translator", "NlpseqError", "DataError", "ConfigError", "ModelDirError", "InputError"]
