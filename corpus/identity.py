"""What a run is built from, recorded in its run directory so that a resume cannot mix two builds.

A re-run of `medmix build` into an existing run directory resumes it. That is only safe if nothing it
was built from has changed: the recipe, the input files (by content: an xxh3 hash, read again when a
file's size or times change), the
tokenizer, the PHI tagger and identifier list, and the surrogate secret (by a keyed fingerprint, never
the secret itself).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import xxhash

from medmix.corpus.recipe import Recipe, resolve_inputs, resolve_path
from medmix.corpus.stages.phi import PhiSettings, PhiStage
from medmix.io import file_sha256, write_json
from medmix.rundir import RunDir


class IdentityError(ValueError):
    """The run directory was built from something else; the message says what and what to do."""


FRESH_START = "build into a fresh output_dir, or re-run with --force-restart to rebuild it from scratch"


def content_hash(path: str) -> str:
    """xxh3-128 of a file's bytes: fast enough to read every input once per build start."""
    digest = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def input_records(inputs: dict[str, list[str]], recorded: dict) -> dict[str, list[dict]]:
    """Each source's input files by path, size, times and content hash. A file whose size, mtime and ctime
    are the ones recorded keeps its recorded hash, so a resume re-reads only the files that were touched
    (ctime cannot be set back, so an edit that restores the old mtime is read again too)."""
    known = {entry["path"]: entry for entries in recorded.values() for entry in entries}
    records = {}
    for source, paths in inputs.items():
        records[source] = []
        for path in paths:
            status = os.stat(path)
            entry = {"path": path, "size": status.st_size, "mtime_ns": status.st_mtime_ns, "ctime_ns": status.st_ctime_ns}
            old = known.get(path, {})
            same_stamp = all(old.get(key) == entry[key] for key in ("size", "mtime_ns", "ctime_ns"))
            entry["xxh3_128"] = old["xxh3_128"] if same_stamp and "xxh3_128" in old else content_hash(path)
            records[source].append(entry)
    return records


def changed_inputs(recorded: dict, now: dict) -> str | None:
    """What differs between the inputs a run was built from and today's, in words; None when nothing does."""
    for source in sorted(set(recorded) | set(now)):
        before = {entry["path"]: entry.get("xxh3_128") for entry in recorded.get(source, [])}
        after = {entry["path"]: entry["xxh3_128"] for entry in now.get(source, [])}
        if added := sorted(set(after) - set(before)):
            return f"source '{source}' has a new input file {added[0]}" + (f" and {len(added) - 1} more" if len(added) > 1 else "")
        if removed := sorted(set(before) - set(after)):
            return f"source '{source}' no longer has its input file {removed[0]}"
        if edited := sorted(path for path in after if before[path] != after[path]):
            return f"the input file {edited[0]} of source '{source}' has changed since the run read it"
    return None


def tokenizer_identity(recipe: Recipe) -> dict:
    """The tokenizer by content: a file replaced under the same path must not be mixed into a resumed build."""
    path = Path(resolve_path(recipe, recipe.tokenizer.path))
    return {"path": str(path), "sha256": file_sha256(path)}  # resolve_inputs has checked that it is a file


def phi_files(stage: PhiStage) -> dict:
    """The PHI tagger (the bundled one by content alone, as its path differs between installs) and the
    known-identifiers file, by sha256."""
    from medmix.corpus.phi.tagger import bundled_model

    files = {"model": {"path": stage.model or "bundled", "sha256": file_sha256(Path(stage.model or bundled_model()))}}
    if stage.known_identifiers:
        files["known_identifiers"] = {"path": stage.known_identifiers,
                                      "sha256": file_sha256(Path(stage.known_identifiers))}
    return files


def record_identity(recipe: Recipe, run: RunDir, phi: PhiSettings | None) -> dict[str, list[str]]:
    """Record what this run is built from; refuse to resume a run dir built from something else.
    Returns every source's input files."""
    inputs = resolve_inputs(recipe)
    path = run.identity_file("inputs.json")
    recorded = json.loads(path.read_text()) if path.exists() else {}
    if not all(isinstance(entry, dict) for entries in recorded.values() for entry in entries):
        raise IdentityError(f"{run} was built by an older medmix, which did not record its inputs' contents; "
                            f"{FRESH_START}")
    files = input_records(inputs, recorded)
    if recorded and (change := changed_inputs(recorded, files)):
        raise IdentityError(f"{run}: {change}; {FRESH_START}")
    # output_dir is left out: a run dir may be moved or copied and still resume
    identity = {"recipe.json": recipe.model_dump(mode="json", exclude={"output_dir"}), "inputs.json": files,
                "tokenizer.json": tokenizer_identity(recipe)}
    if phi:  # the tagger and the identifier list by content: a replaced file must not mix into a resumed run
        identity["phi_files.json"] = phi_files(phi.stage)
    if phi and phi.secret_fingerprint:  # a resumed run must not mix surrogates made with two keys
        identity["phi_secret.json"] = {"secret_env": phi.stage.secret_env, "fingerprint": phi.secret_fingerprint}
    for filename, content in identity.items():
        path = run.identity_file(filename)
        if filename != "inputs.json" and path.exists() and json.loads(path.read_text()) != content:
            if filename == "phi_secret.json":
                raise IdentityError(f"{run} was built with another surrogate secret than the one in "
                                    f"{phi.stage.secret_env}; set the secret it was built with, or use a fresh "
                                    "output_dir")
            raise IdentityError(f"{run} was built from a different {filename.split('.')[0]}; {FRESH_START}")
    for filename, content in identity.items():
        write_json(run.identity_file(filename), content, indent=1)
    return inputs
