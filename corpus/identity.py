"""What a run is built from, recorded in its run directory so that a resume cannot mix two builds.

A re-run of `medmix build` into an existing run directory resumes it. That is only safe if nothing it
was built from has changed: the recipe, the input files, the tokenizer, the PHI tagger and identifier
list, and the surrogate secret (by a keyed fingerprint, never the secret itself).
"""

from __future__ import annotations

import json
from pathlib import Path

from medmix.corpus.recipe import Recipe, resolve_inputs, resolve_path
from medmix.corpus.stages.phi import PhiSettings, PhiStage
from medmix.io import file_sha256, write_json
from medmix.rundir import RunDir


class IdentityError(ValueError):
    """The run directory was built from something else; the message says what and what to do."""


def tokenizer_identity(recipe: Recipe) -> dict:
    """The tokenizer by content: a file replaced under the same path must not be mixed into a resumed build."""
    path = Path(resolve_path(recipe, recipe.tokenizer.path))
    return {"path": str(path), "sha256": file_sha256(path) if path.is_file() else None}


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
    # output_dir is left out: a run dir may be moved or copied and still resume
    identity = {"recipe.json": recipe.model_dump(mode="json", exclude={"output_dir"}), "inputs.json": inputs,
                "tokenizer.json": tokenizer_identity(recipe)}
    if phi:  # the tagger and the identifier list by content: a replaced file must not mix into a resumed run
        identity["phi_files.json"] = phi_files(phi.stage)
    if phi and phi.secret_fingerprint:  # a resumed run must not mix surrogates made with two keys
        identity["phi_secret.json"] = {"secret_env": phi.stage.secret_env, "fingerprint": phi.secret_fingerprint}
    for filename, content in identity.items():
        path = run.identity_file(filename)
        if path.exists() and json.loads(path.read_text()) != content:
            if filename == "phi_secret.json":
                raise IdentityError(f"{run} was built with another surrogate secret than the one in "
                                    f"{phi.stage.secret_env}; set the secret it was built with, or use a fresh "
                                    "output_dir")
            raise IdentityError(f"{run} was built from a different {filename.split('.')[0]}; "
                                "use a fresh output_dir to build this one")
    for filename, content in identity.items():
        write_json(run.identity_file(filename), content, indent=1)
    return inputs
