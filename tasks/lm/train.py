"""Train a language model: a thin wrapper over `nlpseq train lm`.

Usage (from the repository root):
    python tasks/lm/train.py --config tasks/lm/ptb.yaml --output saved_models/lm-ptb
"""

import sys

from nlpseq.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "lm", *sys.argv[1:]]))
