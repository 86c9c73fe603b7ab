"""The base of every config model: strict keys and types, checked
assignment, finite numbers, 64-bit counts.

>>> class Demo(Section):
...     rate_per_day: float = 1.0
>>> Demo.model_validate({"rate_per_day": float("inf")})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for Demo
...
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator


class Section(BaseModel):
    # validate_assignment: parameters are checked when set from Python too.
    # allow_inf_nan=False: inf and nan are rejected in every float field (an
    # inf rate would otherwise pass "ge=0" and turn into a silent p = 1).
    # strict: no lax coercion -- true is not the seed 1, 'yes' is not a
    # boolean, "3" is not a count (TOML has real booleans and integers).
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False, strict=True)

    @field_validator("*")
    @classmethod
    def _int64(cls, v, info):
        # Counts and steps become int64 on the host and in the kernels: a
        # 23-digit number is a typo, refused here instead of overflowing later.
        if isinstance(v, int) and not isinstance(v, bool) and info.field_name != "seed" and abs(v) >= 2**63:
            raise ValueError(f"{v} is too large (at most 2**63 - 1)")
        return v
