"""Models: plain ``torch.nn.Module`` classes (this subpackage imports only torch).

:class:`SymAE` is built from a :class:`SymAEConfig` (every option, one default); its parts
live in ``encoders``, ``pooling``, ``decoders`` and ``filters``; model files in
``serialization``; shipped invariant checks in ``checks``.
"""

from .checks import InvariantError, check_permutation_invariance, check_save_load
from .config import SymAEConfig, channels_are_receivers
from .symae import ModelFileError, SymAE

__all__ = [
    "SymAE",
    "SymAEConfig",
    "ModelFileError",
    "InvariantError",
    "channels_are_receivers",
    "check_permutation_invariance",
    "check_save_load",
]
