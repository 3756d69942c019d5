"""Translation metrics: corpus BLEU and chrF as sacreBLEU computes them, with their signatures."""

from nlpseq.errors import InputError


def translation_scores(hypotheses, references):
    """Corpus-level BLEU and chrF of detokenized translations against one reference each.

    Both metrics tokenize internally (BLEU with sacreBLEU's default ``13a``
    tokenizer), so the inputs are plain untokenized sentences and the scores
    compare with published sacreBLEU numbers; the signatures record the
    settings that make them comparable.

    Args:
        hypotheses: list of system translations, one string per sentence.
        references: list of reference translations, aligned with `hypotheses`.

    Returns:
        dict with `bleu` and `chrf` (floats, 0-100), `bleu_signature` and
        `chrf_signature` (sacreBLEU signature strings) and `sentences` (the
        number of sentences scored).

    Raises:
        InputError: the lists are empty, differ in length, or hold something
            other than strings.
    """
    hypotheses, references = list(hypotheses), list(references)
    _check_inputs(hypotheses, references)
    # Imported here: sacreBLEU takes a noticeable time to import, and tagging
    # code that imports `nlpseq.metrics` never needs it.
    from sacrebleu.metrics import BLEU, CHRF

    bleu, chrf = BLEU(), CHRF()
    bleu_score = bleu.corpus_score(hypotheses, [references])
    chrf_score = chrf.corpus_score(hypotheses, [references])
    return {
        "bleu": float(bleu_score.score),
        "chrf": float(chrf_score.score),
        # Signatures are only complete once the metric has scored something.
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "sentences": len(hypotheses),
    }


def _check_inputs(hypotheses, references):
    if len(hypotheses) != len(references):
        raise InputError(f"{len(hypotheses):,} hypotheses but {len(references):,} references: "
                         "they must be aligned one to one")
    if not hypotheses:
        raise InputError("no sentences to score")
    for name, texts in (("hypotheses", hypotheses), ("references", references)):
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InputError(f"{name}[{i}] is a {type(text).__name__}, expected a str")
