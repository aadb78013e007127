"""`python -m medmix` is the `medmix` command."""

from medmix.cli import entry

entry()
