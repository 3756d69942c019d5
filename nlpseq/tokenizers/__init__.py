"""Tokenization shared by every task: word splitting, vocabularies, SentencePiece.

Nothing here imports TensorFlow at import time; the ``tf_*`` helpers import it when called.
"""

from nlpseq.tokenizers.sentencepiece import SentencePieceTokenizer, pool_to_words
from nlpseq.tokenizers.vocab import CharVocabulary, Vocabulary
from nlpseq.tokenizers.words import align_offsets, tokenize, tokenize_with_offsets

__all__ = [
    "Vocabulary",
    "CharVocabulary",
    "SentencePieceTokenizer",
    "pool_to_words",
    "tokenize",
    "tokenize_with_offsets",
    "align_offsets",
]
