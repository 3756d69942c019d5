"""The `Sentence` record every reader returns."""

from __future__ import annotations

from dataclasses import dataclass

from nlpseq.errors import InputError


@dataclass(frozen=True)
class Sentence:
    """One sentence: its words, optional tags, and where it came from.

    Args:
        words: the tokens of the sentence (a tuple; lists are converted).
        tags: one tag per word, or None for unlabeled text.
        line: the 1-based line of the sentence's first token in its file, or 0
            when the sentence does not come from a file.

    Example:
        >>> s = nlpseq.readers.Sentence(("EU", "rejects"), ("B-ORG", "O"), 1)
        >>> len(s)
        2
    """

    words: tuple[str, ...]
    tags: tuple[str, ...] | None = None
    line: int = 0

    def __post_init__(self):
        # Frozen dataclasses need object.__setattr__ to normalise their fields;
        # tuples keep sentences hashable and safe to share.
        object.__setattr__(self, "words", tuple(self.words))
        if self.tags is not None:
            object.__setattr__(self, "tags", tuple(self.tags))
            if len(self.tags) != len(self.words):
                raise InputError(
                    f"a sentence has {len(self.words)} words but {len(self.tags)} tags"
                )

    def __len__(self) -> int:
        return len(self.words)
