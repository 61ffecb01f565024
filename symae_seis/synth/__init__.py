"""Synthetic surveys with ground truth (the embedded default and test data)."""

from .convolutional import Conv4DParams, Earth, Nuisance, make_conv4d_survey, render_gather
from .generate import generate
from .mseed import make_mseed_survey
from .passive import PassiveParams, dvv_history, make_passive_survey

__all__ = [
    "Conv4DParams",
    "Earth",
    "Nuisance",
    "make_conv4d_survey",
    "render_gather",
    "make_mseed_survey",
    "generate",
    "PassiveParams",
    "dvv_history",
    "make_passive_survey",
]
