"""MIMIC-CXR free-text radiology reports: the `files/pNN/pNNNNNNNN/sNNNNNNNN.txt` tree, or its zip."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import PurePosixPath

from datatrove.data import Document

from medmix.corpus.readers.base import Rejected, SourceReader

STUDY = re.compile(r"p(\d+)/s(\d+)\.txt$")


class MimicCxrReader(SourceReader):
    """One document per report; the id is the study (`s50414267`), the patient goes to metadata."""

    name = "📖 MIMIC-CXR reports"

    def records(self, path: str) -> Iterator[Document | Rejected]:
        if path.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    if member.endswith(".txt"):
                        yield self.report(archive.read(member), f"{path}!{member}")
        else:
            with open(path, "rb") as handle:
                yield self.report(handle.read(), path)

    def report(self, raw: bytes, location: str) -> Document | Rejected:
        match = STUDY.search(PurePosixPath(location.replace("\\", "/")).as_posix())
        if not match:
            return Rejected("unexpected_path", f"{location} is not files/pNN/pNNNNNNNN/sNNNNNNNN.txt",
                            metadata={"file": location})
        subject, study = match.groups()
        text = raw.decode("utf-8", "surrogateescape")
        return Document(text=text, id=f"s{study}",
                        metadata={"subject_id": subject, "file": location, "phi_placeholder": "___"})
