"""The bundled LLaMA-2 continual pre-training trainer: model, parallelism, loop, checkpoints, loader, evaluation."""
