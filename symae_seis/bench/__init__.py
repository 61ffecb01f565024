"""The science of the benchmarks: survey factories, training with the shipped defaults
through ``symae-train``'s own parser, scoring against the truth and the conventional
methods, disentanglement probes, the passive floor and the infill scenarios.

``scripts/bench/*.py`` are the command lines over these modules; the tests import them.
Library code: no printing (progress goes to logging), nothing at import time.
"""

__all__ = ["training", "surveys", "quality", "probes", "passive", "infill", "options"]
