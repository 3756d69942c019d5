"""Task models composed from `nlpseq.layers` (importing this registers them for `.keras` loading)."""

from nlpseq.models.language_model import RNNLanguageModel
from nlpseq.models.seq2seq import Seq2SeqModel
from nlpseq.models.tagger import SequenceTagger, tagger_from_config

__all__ = ["SequenceTagger", "tagger_from_config", "RNNLanguageModel", "Seq2SeqModel"]
