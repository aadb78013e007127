"""PHI scrubbing for clinical text: gold-standard readers and the scoring that `medmix phi-eval` reports."""
