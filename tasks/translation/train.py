"""Train a translation model: a thin wrapper over `nlpseq train translation`.

Usage (from the repository root):
    python tasks/translation/train.py --config tasks/translation/multi30k_en_de.yaml --output saved_models/mt-multi30k-en-de
"""

import sys

from nlpseq.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "translation", *sys.argv[1:]]))
