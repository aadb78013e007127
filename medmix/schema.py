"""The pydantic building blocks every config shares: the recipe, each stage's config and the training config."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Domain = Literal["biomedical", "clinical", "general"]
SourceName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]*$")]
Fraction = Annotated[float, Field(ge=0, le=1)]


class Strict(BaseModel):
    """A config that refuses unknown keys, so a typo is an error and not a silently ignored setting."""

    model_config = ConfigDict(extra="forbid")
