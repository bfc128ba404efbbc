"""Shared base for every swescale config section: field docstrings become descriptions."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section. Unknown keys are errors, so typos in YAML or overrides never pass silently."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, validate_assignment=True)
