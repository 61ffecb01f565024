"""Type aliases shared across the package."""

from __future__ import annotations

import os
from typing import Literal, Union

PathLike = Union[str, "os.PathLike[str]"]
GapPolicy = Literal["reject", "zero", "interpolate", "skip"]
UnequalPolicy = Literal["reject", "pad"]
DataFormat = Literal["segy", "su", "mseed"]
DatapointBy = Literal["survey", "day", "hour"]
TimeAxes = Literal["strict", "align"]
Endian = Literal["auto", "big", "little"]

__all__ = [
    "PathLike",
    "GapPolicy",
    "UnequalPolicy",
    "DataFormat",
    "DatapointBy",
    "TimeAxes",
    "Endian",
]
