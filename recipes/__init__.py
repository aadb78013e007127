"""Bundled recipes, shipped as package data so `medmix demo` works from an installed wheel."""
