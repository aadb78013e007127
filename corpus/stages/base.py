"""What a stage's `plan` gets and gives back: the stage's folders in, datatrove phases out.

Words used the same way everywhere: a *kind* is a type of stage a recipe can name (`dedup`); a *stage*
is one entry of the pipeline, with its folder `stages/NN_<kind>/`; a *phase* is one datatrove pipeline,
run as one executor job (most stages have one, dedup has five); a *step* is one datatrove block in a
phase's pipeline.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.logging import logger
from isal import igzip

from medmix.rundir import StageDir

if TYPE_CHECKING:
    from medmix.corpus.stages.phi import PhiSettings


@dataclass
class Phase:
    """One datatrove pipeline, run as one executor job; `tasks` None means the recipe's task count."""

    name: str
    pipeline: list[PipelineStep]
    logs: Path
    tasks: int | None = None


class WithoutDependencyCheck:
    """Skips datatrove's check that a step's dependencies are installed (for steps whose dependency, orjson,
    medmix itself requires). The check reads the metadata of every installed distribution, 0.3 s, in each
    task process, since unpickling a step calls `__new__` again."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)


class StageInput(WithoutDependencyCheck, JsonlReader):
    """The previous stage's kept documents. A stage that kept nothing is an empty input, not an error.

    The same Documents as datatrove's `JsonlReader` makes (ids, metadata, media, empty texts skipped,
    unparsable lines logged and skipped, `limit` and `skip`), read faster: with a fast encoder, reading is
    a third of a tokenize task. gzip is inflated by ISA-L (`isal`, 3 times zlib's speed here; the gzip
    format's CRC still checks every member), in blocks of `BLOCK` bytes, and each line parsed by orjson
    from bytes, without decoding the text twice or a Python call per line to read it; the time is tracked
    per block, not per line.
    """

    BLOCK = 1 << 22

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if self.data_folder.list_files(glob_pattern=self.glob_pattern):
            yield from super().run(data, rank, world_size)

    def read_file(self, filepath: str):
        with ExitStack() as files:
            if self.compression == "gzip" or self.compression == "infer" and filepath.endswith(".gz"):
                handle = files.enter_context(igzip.IGzipFile(fileobj=files.enter_context(
                    self.data_folder.open(filepath, "rb"))))
            else:
                handle = files.enter_context(self.data_folder.open(filepath, "rb", compression=self.compression))
            number, rest = 0, b""
            while block := handle.read(self.BLOCK):
                lines = (rest + block).split(b"\n")
                rest = lines.pop()  # the start of a line that goes on in the next block
                with self.track_time():
                    documents = [self.parse(line, filepath, number + i) for i, line in enumerate(lines)]
                number += len(lines)
                yield from filter(None, documents)
            if rest:  # a last line without its newline
                yield from filter(None, [self.parse(rest, filepath, number)])

    def parse(self, line: bytes, filepath: str, number: int) -> Document | None:
        """One line as `JsonlReader.read_file` turns it into a Document, or None (no text, or not JSON)."""
        try:
            record = orjson.loads(line)
            for media in record.get("media", []):
                if media["media_bytes"] is not None:
                    media["media_bytes"] = base64.decodebytes(media["media_bytes"].encode("ascii"))
            return self.get_document_from_dict(record, filepath, number)
        except orjson.JSONDecodeError as error:
            logger.warning(f"Error when reading `{filepath}`: {error}")
            return None


class StageOutput(WithoutDependencyCheck, JsonlWriter):
    """The documents a stage keeps: datatrove's `JsonlWriter`, one `${rank}.jsonl.gz` per task (gzip by ISA-L,
    which fsspec uses when `isal` is installed)."""

    def __init__(self, folder: str):
        super().__init__(folder, output_filename="${rank}.jsonl.gz")


def read_kept(folder: Path) -> StageInput:
    """A phase's reader of the documents a stage kept."""
    return StageInput(str(folder), glob_pattern="*.jsonl.gz", add_file_path=False)


@dataclass
class StageContext:
    """Where one stage reads and writes, and what of the recipe its `plan` may need beyond its own config."""

    kind: str
    stage: StageDir  # stages/NN_<kind>/
    logs: Path  # logs/NN_<kind>/
    previous: Path | None  # the previous stage's kept/ folder (None for the first stage)
    tasks: int  # the executor's task count
    sources: list  # the recipe's sources, in recipe order
    resolve: Callable[[str], str]  # a recipe path made absolute (relative ones are under data_root)
    phi: PhiSettings | None = None

    @property
    def directory(self) -> Path:
        """The stage folder, as the stage's steps take it (they keep their books there)."""
        return self.stage.path

    def read_input(self) -> PipelineStep:
        return read_kept(self.previous)

    def write_kept(self) -> PipelineStep:
        return StageOutput(str(self.stage.kept))

    def one_phase(self, *steps: PipelineStep) -> list[Phase]:
        """The usual stage: read what the previous stage kept, run `steps`, write what they keep."""
        return [Phase(self.kind, [self.read_input(), *steps, self.write_kept()], self.logs / self.kind)]
