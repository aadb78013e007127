"""Shared by the benchmarks: one stream of documents that mixes its sources all the way through."""


def interleaved(texts: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(source, text) round-robin over the sources, so every stretch of the input is mixed."""
    out, iters = [], {name: iter(items) for name, items in texts.items()}
    while iters:
        for name in list(iters):
            try:
                out.append((name, next(iters[name])))
            except StopIteration:
                del iters[name]
    return out
