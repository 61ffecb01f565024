"""Quality control: 4D metrics (NRMS, predictability, time shift), plots, reports."""

from .metrics import nrms, predictability, rms, time_shift

__all__ = ["nrms", "predictability", "rms", "time_shift"]
