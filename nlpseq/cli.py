"""The `nlpseq` command line: train, evaluate and tag.

Every user mistake is printed as one line `error: ...` with exit status 2;
`--debug` shows the traceback instead.
"""

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from nlpseq import atomic_files
from nlpseq.errors import NlpseqError

TAGGING_TASKS = ("ner", "pos")
TASKS = TAGGING_TASKS + ("lm", "translation")


def _quiet_tensorflow():
    """Imports TensorFlow and creates its devices with standard error muted.

    Its C++ start-up chatter (oneDNN notes, CUDA probing on machines without a
    GPU) comes from absl logging that no environment variable silences, and is
    noise for users. `--debug` skips this.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    sys.stderr.flush()
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        # Physical devices only: the runtime itself starts later, so a training run
        # can still choose its thread counts (nlpseq.training.threads).
        tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def cmd_train(args):
    from nlpseq.training.config import resolve_config

    config = resolve_config(args.task, args.config, args.set or ())
    if args.task == "lm":
        from nlpseq.training.lm import train_lm as train
    elif args.task == "translation":
        from nlpseq.training.translation import train_translation as train
    else:
        from nlpseq.training.tagging import train_tagger as train

    output = args.output or os.path.join("runs", f"{args.task}-model")
    train(config, output, work_dir=args.work_dir, resume=args.resume, verbose=args.verbose,
          command=args.command_line)
    print(f"model written to {output}")


def _checkpoint_predictor(run_dir):
    """Config and a predict function for the best checkpoint of a training run (`--work-dir`)."""
    import warnings

    import yaml

    from nlpseq.data.features import TaggingFeatures
    from nlpseq.errors import ModelDirError
    from nlpseq.training.evaluation import predict_tags
    from nlpseq.training.lm_features import FeatureLanguageModels
    from nlpseq.training.tagging import build_model, load_aux_tags

    run_dir = Path(run_dir)
    try:
        config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    except OSError:
        raise ModelDirError(f"{run_dir} has checkpoints but no config.yaml") from None
    features = TaggingFeatures.load(run_dir / "features")
    lms = FeatureLanguageModels.load(config["features"].get("lm"))
    model = build_model(config, features, aux_tags=len(load_aux_tags(run_dir)), lms=lms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the file also holds optimizer slots this model has no use for
        model.load_weights(run_dir / "checkpoints" / "best.weights.h5")
    return config, lambda word_lists: predict_tags(model, features, word_lists)


def _load_lm_for_scoring(path):
    """Config, encoder and model of an LM directory, or of a run's best checkpoint (`--work-dir`)."""
    import warnings

    import keras
    import numpy as np
    import yaml

    import nlpseq.models  # noqa: F401  (registers the model classes for loading)
    from nlpseq.tokenizers.text_encoder import TextEncoder

    path = Path(path)
    config = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8"))
    encoder = TextEncoder.load(path / "assets")
    if (path / "checkpoints" / "best.weights.h5").is_file():
        from nlpseq.training.lm import build_lm
        from nlpseq.training.tbptt import StreamTrainer

        lm = build_lm(config, encoder.vocab_size)
        trainer = StreamTrainer(lm, config["training"]["batch_size"])
        trainer(np.ones((config["training"]["batch_size"], 1), "int32"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the file also holds optimizer slots
            trainer.load_weights(path / "checkpoints" / "best.weights.h5")
        return config, encoder, lm
    return config, encoder, keras.models.load_model(path / "model.keras", compile=False)


def _evaluate_lm(args):
    from nlpseq.training.lm import read_corpus, score_lines

    config, encoder, lm = _load_lm_for_scoring(args.model_dir)
    lines = read_corpus(args.data_file)
    if not lines:
        raise NlpseqError(f"{args.data_file}: no text to score")
    scores = score_lines(lm, encoder, lines, config["training"]["eval_batch_size"], config["training"]["bptt"],
                         reverse=config["data"].get("reverse", False))
    print(f"model: {args.model_dir}\ndata: {args.data_file}\nlines: {len(lines)}  "
          f"tokens (words + one <eos> per line): {scores['tokens']}")
    for name, value in scores.items():
        print(f"{name}: {value:.2f}" if isinstance(value, float) else f"{name}: {value}")
    print(json.dumps({"task": "lm", **scores}))


def _model_task(path):
    """The task of a model directory or training work dir (None when unknown)."""
    import yaml

    try:
        config = yaml.safe_load((Path(path) / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return config.get("task") if isinstance(config, dict) else None


def _evaluate_translation(args):
    from nlpseq.api.translator import Translator
    from nlpseq.metrics.translation import translation_scores
    from nlpseq.readers.parallel import read_parallel

    if args.reference_file is None:
        raise NlpseqError("a translation model needs SRC_FILE and REF_FILE")
    translator = Translator.load(args.model_dir)
    decoding = translator.config["decoding"]
    pairs = read_parallel(args.data_file, args.reference_file)
    hypotheses = translator.translate_batch([s for s, _ in pairs], beam_size=decoding["beam_size"],
                                            length_penalty=decoding["length_penalty"], progress=_progress())
    scores = translation_scores(hypotheses, [r for _, r in pairs])
    print(f"model: {args.model_dir}\nsource: {args.data_file}\nreference: {args.reference_file}\n"
          f"sentences: {len(pairs)}  beam: {decoding['beam_size']}  length penalty: {decoding['length_penalty']}")
    print(f"BLEU: {scores['bleu']:.2f}  ({scores['bleu_signature']})")
    print(f"chrF: {scores['chrf']:.2f}  ({scores['chrf_signature']})")
    print(json.dumps({"task": "translation", "bleu": scores["bleu"], "chrf": scores["chrf"],
                      "sentences": len(pairs)}))


def _progress():
    """Whether long batch calls draw a progress count: only on a terminal, never into a log or pipe."""
    return sys.stderr.isatty()


def _check_documents_option(config, fmt):
    if config["task"] != "ner":
        raise NlpseqError(f"--documents is for NER models; this is a '{config['task']}' model")
    if fmt != "conll":
        raise NlpseqError("--documents needs a CoNLL file (documents start at -DOCSTART- lines)")


def cmd_evaluate(args):
    task = _model_task(args.model_dir)  # None for a missing or unreadable directory: the loaders say why
    if args.documents and task in ("translation", "lm", "pos"):
        raise NlpseqError(f"--documents is for NER models; {args.model_dir} is a '{task}' model")
    if task == "translation":
        return _evaluate_translation(args)
    if args.reference_file is not None:
        raise NlpseqError("REF_FILE is only for translation models")
    if task == "lm":
        if not (Path(args.model_dir) / "checkpoints").is_dir():
            from nlpseq.export.model_dir import check_model_dir

            check_model_dir(args.model_dir, kinds=("lm",))
        return _evaluate_lm(args)
    from nlpseq.data.sources import load_sentences
    from nlpseq.readers.schemes import convert_tags
    from nlpseq.training.evaluation import score_tagging

    if (Path(args.model_dir) / "checkpoints" / "best.weights.h5").is_file():
        # A training run's work dir: score its best checkpoint so far.
        config, predict = _checkpoint_predictor(args.model_dir)
    else:
        from nlpseq.api.tagger import Tagger

        tagger = Tagger.load(args.model_dir)
        config = tagger.config
        predict = lambda word_lists: [[t for _, t in row] for row in tagger.tag_batch(word_lists, progress=_progress())]  # noqa: E731
    data = config["data"]
    if args.documents:
        _check_documents_option(config, data["format"])
    sentences = load_sentences(args.data_file, format=data["format"], tag_column=data["tag_column"],
                               tag_field=data["tag_field"], scheme=data["scheme"])
    word_lists = [list(s.words) for s in sentences]
    predicted = predict(word_lists)
    if args.documents:
        from nlpseq.decoding.entity_consistency import harmonize_documents
        from nlpseq.readers.conll import document_ids

        predicted = harmonize_documents(list(zip(word_lists, predicted)), document_ids(args.data_file),
                                        data["model_scheme"])
    gold = [list(s.tags) for s in sentences]
    print(f"model: {args.model_dir}\ndata: {args.data_file}\nsentences: {len(sentences)}  "
          f"tokens: {sum(len(g) for g in gold)}")
    if config["task"] == "ner":
        # Gold tags come in the file's scheme; score_tagging reads the model's.
        gold = [convert_tags(g, data["scheme"] or "BIO", data["model_scheme"]) for g in gold]
    scores = score_tagging(config["task"], gold, predicted, data["model_scheme"])
    if "report" in scores:
        print(scores.pop("report"))
    for name, value in scores.items():
        print(f"{name}: {value:.4f}")
    result = {"task": config["task"], **scores, "sentences": len(sentences)}
    if args.documents:
        result["documents"] = True
    print(json.dumps(result))


def cmd_tag(args):
    from nlpseq.api.tagger import Tagger
    from nlpseq.readers.conll import read_tokens_file

    if (args.text is None) == (args.input is None):
        raise NlpseqError("give either a TEXT or --input FILE")
    if args.documents and args.input is None:
        raise NlpseqError("--documents needs --input FILE")
    tagger = Tagger.load(args.model_dir)
    if args.documents:
        _check_documents_option(tagger.config, args.format)
    if args.text is not None:
        rows = tagger.tag_batch([args.text])
    elif args.format == "conll":
        rows = tagger.tag_batch(read_tokens_file(args.input), progress=_progress())
        if args.documents:
            from nlpseq.decoding.entity_consistency import harmonize_rows
            from nlpseq.readers.conll import document_ids

            rows = harmonize_rows(rows, document_ids(args.input), tagger.scheme)
    else:
        from nlpseq.readers.text import read_text_lines

        rows = tagger.tag_batch(read_text_lines(args.input), progress=_progress())
    text = "".join("".join(f"{word}\t{tag}\n" for word, tag in row) + "\n" for row in rows)
    if args.output:
        atomic_files.write_text(args.output, text)  # never a half-written output file
    else:
        sys.stdout.write(text)


def cmd_generate(args):
    from nlpseq.api.language_model import LanguageModel
    from nlpseq.readers.text import read_text_lines

    if (args.prompt is None) == (args.input is None):
        raise NlpseqError("give either a PROMPT or --input FILE")
    lm = LanguageModel.load(args.model_dir)
    prompts = [args.prompt] if args.prompt is not None else read_text_lines(args.input)
    options = dict(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, beam_size=args.beam_size,
                   length_penalty=args.length_penalty, seed=args.seed)
    for start in range(0, len(prompts), args.batch_size):
        for text in lm.generate_batch(prompts[start:start + args.batch_size], args.max_new_tokens, args.strategy,
                                      **options):
            print(text, flush=True)


def cmd_translate(args):
    from nlpseq.api.translator import Translator
    from nlpseq.readers.text import read_text_lines

    if (args.text is None) == (args.input is None):
        raise NlpseqError("give either a TEXT or --input FILE")
    translator = Translator.load(args.model_dir)
    texts = [args.text] if args.text is not None else [line.strip() for line in read_text_lines(args.input)]
    translations = translator.translate_batch(texts, beam_size=args.beam_size, length_penalty=args.length_penalty,
                                              batch_size=args.batch_size, progress=args.input is not None and _progress())
    text = "".join(t + "\n" for t in translations)
    if args.output:
        atomic_files.write_text(args.output, text)  # never a half-written output file
    else:
        sys.stdout.write(text)


def cmd_export(args):
    from nlpseq.export.model_dir import export_saved_model

    export_saved_model(args.model_dir)
    print(f"SavedModel written to {args.model_dir}/saved_model")


def cmd_vectors(args):
    from nlpseq.training.word_vectors import train_word_vectors

    train_word_vectors(args.text, args.output, conll_files=args.conll, conllu_files=args.conllu, dim=args.dim,
                       window=args.window, epochs=args.epochs, min_count=args.min_count, max_words=args.max_words)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="nlpseq",
        description="Recurrent sequence models in Keras 3: train, evaluate and run taggers, language models and translators.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model from a task config",
                           description="Train a model. Example: nlpseq train ner --config tasks/ner/conll2003.yaml "
                                       "--set training.epochs=5 --output runs/ner")
    train.add_argument("task", choices=TASKS,
                       help="the task to train (ner, pos: taggers; lm: language model; translation: seq2seq)")
    train.add_argument("--config", help="YAML config (defaults in code apply where it is silent)")
    train.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a config key, e.g. --set training.epochs=3 or --set "
                            "training.average_last=5 (ship the mean of the last 5 epochs if better on dev); "
                            "repeatable")
    train.add_argument("--output", help="model directory to write (default runs/TASK-model)")
    train.add_argument("--work-dir", help="checkpoints and TensorBoard logs (default runs/<output name>)")
    train.add_argument("--resume", action="store_true", help="continue from the last epoch checkpoint")
    train.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                       help="Keras verbosity: 1 progress bar (default), 2 one line per epoch, 0 silent")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("evaluate", help="score a model on a labelled file",
                              description="Print a report; the last line is one JSON object of the scores "
                                          "(perplexity per word for a language model, DATA_FILE then being "
                                          "plain text, one sentence per line). "
                                          "MODEL_DIR may also be a training run's --work-dir: its best "
                                          "checkpoint so far is scored.")
    evaluate.add_argument("model_dir", help="a model directory, or a training run's work dir")
    evaluate.add_argument("data_file", help="labelled data in the model's training format; for a translation "
                                            "model, the source file")
    evaluate.add_argument("reference_file", nargs="?", help="translation models: the reference translations "
                                                            "(line-aligned with the source; .gz accepted)")
    evaluate.add_argument("--documents", action="store_true",
                          help="NER: make entity tags agree within each document (-DOCSTART- to -DOCSTART-) "
                               "before scoring, as Tagger.tag_document does")
    evaluate.set_defaults(func=cmd_evaluate)

    tag = sub.add_parser("tag", help="tag text with a tagger model",
                         description="Tag TEXT, or a file: --format conll (one token per line, blank line "
                                     "between sentences) or --format text (one sentence per line). "
                                     "Output: word<TAB>tag lines, blank line between sentences.")
    tag.add_argument("model_dir", help="a tagger's model directory (e.g. saved_models/ner-conll2003)")
    tag.add_argument("text", nargs="?", help="the text to tag")
    tag.add_argument("--input", help="file to tag instead of TEXT")
    tag.add_argument("--format", choices=("conll", "text"), default="conll", help="format of --input")
    tag.add_argument("--output", help="write here instead of standard output")
    tag.add_argument("--documents", action="store_true",
                     help="NER, --format conll: make entity tags agree within each document of the file "
                          "(-DOCSTART- lines start documents; without them the file is one document)")
    tag.set_defaults(func=cmd_tag)
    generate = sub.add_parser(
        "generate", help="continue text with a language model",
        description="Continue PROMPT (or every line of --input) with a language model and print one "
                    "line per prompt: the prompt followed by the generated words. Example: nlpseq generate "
                    "saved_models/lm-ptb \"the company said\" --strategy top_p --top-p 0.9 --seed 1")
    generate.add_argument("model_dir", help="a language model's directory (e.g. saved_models/lm-ptb)")
    generate.add_argument("prompt", nargs="?", help="the text to continue ('' starts a new sentence)")
    generate.add_argument("--input", help="file of prompts, one per line (.gz accepted)")
    generate.add_argument("--strategy", default="greedy", choices=("greedy", "sample", "top_k", "top_p", "beam"),
                          help="decoding strategy (default greedy)")
    generate.add_argument("--max-new-tokens", type=int, default=30, help="most tokens to add (default 30)")
    generate.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1)")
    generate.add_argument("--top-k", type=int, default=0, help="sample from the k likeliest tokens (0 = all)")
    generate.add_argument("--top-p", type=float, default=1.0, help="nucleus probability mass (1 = all)")
    generate.add_argument("--beam-size", type=int, default=5, help="beams for --strategy beam (default 5)")
    generate.add_argument("--length-penalty", type=float, default=0.0, help="beam length normalization (0 = none)")
    generate.add_argument("--seed", type=int, help="seed for reproducible sampling")
    generate.add_argument("--batch-size", type=int, default=32, help="prompts per call with --input")
    generate.set_defaults(func=cmd_generate)

    translate = sub.add_parser(
        "translate", help="translate text with a seq2seq model",
        description="Translate TEXT, or every line of --input (plain or .gz) into --output (one line each). "
                    "Example: nlpseq translate saved_models/mt-multi30k-en-de \"A man is riding a bicycle.\"")
    translate.add_argument("model_dir", help="a translation model's directory (e.g. saved_models/mt-multi30k-en-de)")
    translate.add_argument("text", nargs="?", help="the sentence to translate")
    translate.add_argument("--input", help="file of source sentences, one per line")
    translate.add_argument("--output", help="write the translations here instead of standard output")
    translate.add_argument("--beam-size", type=int, default=5, help="beams (1 = greedy; default 5)")
    translate.add_argument("--length-penalty", type=float, default=0.6, help="GNMT length penalty (default 0.6)")
    translate.add_argument("--batch-size", type=int, default=64, help="sentences per call (default 64)")
    translate.set_defaults(func=cmd_translate)

    export = sub.add_parser("export", help="(re)write a model directory's SavedModel from its model.keras",
                            description="Rebuild MODEL_DIR/saved_model from model.keras and the assets, e.g. "
                                        "for a model trained with the JAX backend. Needs the TensorFlow backend.")
    export.add_argument("model_dir", help="a model directory holding model.keras")
    export.set_defaults(func=cmd_export)

    vectors = sub.add_parser("vectors", help="pretrain word vectors (skip-gram) on unlabeled text",
                             description="Train skip-gram word vectors for a tagger's features.word.pretrained "
                                         "(needs the pretrain extra: pip install -e '.[pretrain]'). Words are "
                                         "tokenized, lower-cased and digit-normalized like the tagger's vocabulary.")
    vectors.add_argument("--text", nargs="+", required=True, help="unlabeled text files (.txt or .txt.gz)")
    vectors.add_argument("--conll", nargs="*", default=[], help="CoNLL files whose words join the corpus")
    vectors.add_argument("--conllu", nargs="*", default=[], help="CoNLL-U files whose words join the corpus")
    vectors.add_argument("--output", required=True, help="word2vec text file to write")
    vectors.add_argument("--dim", type=int, default=100, help="vector size (default 100)")
    vectors.add_argument("--window", type=int, default=5,
                         help="context words each side (default 5; 1-2 give more syntactic vectors, for POS)")
    vectors.add_argument("--epochs", type=int, default=5, help="passes over the text (default 5)")
    vectors.add_argument("--min-count", type=int, default=3, help="ignore rarer words (default 3)")
    vectors.add_argument("--max-words", type=int, default=100000, help="most frequent words written")
    vectors.set_defaults(func=cmd_vectors, needs_tensorflow=False)
    return parser


def main(argv=None):
    """Runs the CLI; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.command_line = " ".join(["nlpseq"] + [shlex.quote(a) for a in argv])
    if not args.debug and getattr(args, "needs_tensorflow", True):
        _quiet_tensorflow()
    try:
        args.func(args)
    except NlpseqError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
