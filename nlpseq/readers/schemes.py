"""Entity tag schemes (IOB1, BIO, IOBES): validation, conversion and spans.

A tag is `O` or `PREFIX-TYPE`, e.g. `B-PER`. The schemes differ in their prefixes:

- IOB1 (CoNLL-2003): `I-` inside any entity; `B-` only where an entity directly
  follows another entity of the same type.
- BIO (also called IOB2): `B-` on the first token of every entity, `I-` after it.
- IOBES: `S-` for a one-token entity, otherwise `B-`, `I-`..., `E-`.

Only entity tags belong here: POS tags are not a scheme and are never validated.
Ill-formed sequences (an `I-X` after `O` or after another type) are read as
conlleval reads them: such a tag starts a new entity.
"""

from __future__ import annotations

from nlpseq.errors import ConfigError

SCHEMES = ("IOB1", "BIO", "IOBES")

_ALIASES = {"IOB2": "BIO"}
_PREFIXES = {"IOB1": frozenset("IB"), "BIO": frozenset("BI"), "IOBES": frozenset("BIES")}


def normalize_scheme(scheme: str) -> str:
    """Returns the canonical name of a scheme (case-insensitive; IOB2 means BIO).

    Args:
        scheme: a scheme name such as "bio", "IOB2", "iobes".

    Returns:
        One of `SCHEMES`.

    Raises:
        ConfigError: the name is not a known scheme.
    """
    name = str(scheme).strip().upper()
    name = _ALIASES.get(name, name)
    if name not in SCHEMES:
        raise ConfigError(
            f"unknown tag scheme {scheme!r}; expected one of {', '.join(SCHEMES)} (or IOB2)"
        )
    return name


def _split_tag(tag: str, scheme: str) -> tuple[str, str | None]:
    """Returns (prefix, type) of a tag, or ("O", None); raises ValueError if invalid."""
    if tag == "O":
        return "O", None
    prefix, sep, kind = tag.partition("-")
    if sep and kind and len(prefix) == 1 and prefix in _PREFIXES[scheme] and not kind.isspace():
        return prefix, kind
    raise ValueError(f"tag {tag!r} is not valid in the {scheme} scheme")


def validate_tag(tag: str, scheme: str) -> None:
    """Checks that one tag belongs to a scheme.

    Args:
        tag: the tag, e.g. "B-PER".
        scheme: "IOB1", "BIO" (or "IOB2") or "IOBES".

    Raises:
        ValueError: the tag is not `O` or a valid `PREFIX-TYPE` of the scheme; the
            message reads "tag 'E-PER' is not valid in the BIO scheme". Readers
            turn it into a `DataError` with the file and line.
        ConfigError: the scheme name is unknown.
    """
    _split_tag(tag, normalize_scheme(scheme))


def tags_to_spans(tags, scheme: str = "BIO") -> list[tuple[str, int, int]]:
    """Extracts entity spans from a tag sequence, the way conlleval does.

    Args:
        tags: the tags of one sentence.
        scheme: the scheme the tags are written in.

    Returns:
        A list of (type, start, end_exclusive) over token indices, in order.

    Raises:
        ValueError: a tag is not valid in the scheme.

    Example:
        >>> nlpseq.readers.tags_to_spans(["B-PER", "I-PER", "O", "B-LOC"])
        [('PER', 0, 2), ('LOC', 3, 4)]
    """
    scheme = normalize_scheme(scheme)
    spans = []
    open_type, open_start = None, 0
    for i, tag in enumerate(tags):
        prefix, kind = _split_tag(tag, scheme)
        if prefix == "O":
            if open_type is not None:
                spans.append((open_type, open_start, i))
                open_type = None
            continue
        # B and S always start an entity; I and E continue only an open entity of
        # the same type (a closed E/S leaves nothing open).
        if prefix in "BS" or open_type != kind:
            if open_type is not None:
                spans.append((open_type, open_start, i))
            open_type, open_start = kind, i
        if prefix in "ES":
            spans.append((open_type, open_start, i + 1))
            open_type = None
    if open_type is not None:
        spans.append((open_type, open_start, len(tags)))
    return spans


def spans_to_tags(spans, length: int, scheme: str = "BIO") -> list[str]:
    """Writes non-overlapping spans as a tag sequence in a scheme.

    Args:
        spans: (type, start, end_exclusive) tuples, sorted and non-overlapping.
        length: the number of tokens.
        scheme: the target scheme.

    Returns:
        A list of `length` tags.
    """
    scheme = normalize_scheme(scheme)
    tags = ["O"] * length
    prev_end, prev_type = -1, None
    for kind, start, end in spans:
        n = end - start
        if scheme == "BIO":
            tags[start:end] = [f"B-{kind}"] + [f"I-{kind}"] * (n - 1)
        elif scheme == "IOBES":
            if n == 1:
                tags[start] = f"S-{kind}"
            else:
                tags[start:end] = [f"B-{kind}"] + [f"I-{kind}"] * (n - 2) + [f"E-{kind}"]
        else:
            # IOB1 needs B- only to separate two touching entities of one type.
            first = "B" if (prev_end == start and prev_type == kind) else "I"
            tags[start:end] = [f"{first}-{kind}"] + [f"I-{kind}"] * (n - 1)
        prev_end, prev_type = end, kind
    return tags


def convert_tags(tags, source: str, target: str) -> list[str]:
    """Converts one sentence's tags from one scheme to another.

    Any pair of `SCHEMES` works; the entities are read with `tags_to_spans`, so an
    ill-formed input is repaired (converting BIO to BIO normalises it).

    Args:
        tags: the tags of one sentence, in `source`.
        source: the scheme of `tags`.
        target: the scheme to write.

    Returns:
        The tags in `target`, one per input tag.

    Raises:
        ValueError: a tag is not valid in `source`.

    Example:
        >>> nlpseq.readers.convert_tags(["I-PER", "B-PER", "O"], "IOB1", "BIO")
        ['B-PER', 'B-PER', 'O']
    """
    tags = list(tags)
    return spans_to_tags(tags_to_spans(tags, source), len(tags), target)
