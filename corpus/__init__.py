"""Corpus curation: readers, cleaning steps, accounting and the recipe build."""
