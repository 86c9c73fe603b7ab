"""The base of every config model: strict keys, checked assignment, finite numbers.

>>> class Demo(Section):
...     rate_per_day: float = 1.0
>>> Demo.model_validate({"rate_per_day": float("inf")})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for Demo
...
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    # validate_assignment: parameters are checked when set from Python too.
    # allow_inf_nan=False: inf and nan are rejected in every float field (an
    # inf rate would otherwise pass "ge=0" and turn into a silent p = 1).
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)
