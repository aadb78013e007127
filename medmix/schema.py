"""The pydantic building blocks every config shares: the recipe, each stage's config and the training config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

Domain = Literal["biomedical", "clinical", "general"]
SourceName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]*$")]
Fraction = Annotated[float, Field(ge=0, le=1)]


class Strict(BaseModel):
    """A config that refuses unknown keys, so a typo is an error and not a silently ignored setting."""

    model_config = ConfigDict(extra="forbid")


def read_yaml(path: Path, what: str, error: type[Exception]):
    """A YAML file's content. A missing file or invalid YAML raises `error` with one line naming the file."""
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except yaml.YAMLError as problem:
        raise error(f"{path}: not valid YAML: {problem}") from None
