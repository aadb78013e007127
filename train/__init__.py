"""The bundled LLaMA-2 continual pre-training trainer (issue 6)."""
