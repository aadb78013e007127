"""`python -m medmix.train CONFIG` (what torchrun runs on every rank)."""

import sys

from medmix.train.loop import main

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m medmix.train CONFIG.yaml")
    main(sys.argv[1])
