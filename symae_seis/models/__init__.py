"""Models: plain ``torch.nn.Module`` classes (this subpackage imports only torch)."""

from .symae import (
    ModelFileError,
    SymAE,
    channels_are_receivers,
    check_permutation_invariance,
    check_save_load,
)

__all__ = ["SymAE", "ModelFileError", "channels_are_receivers", "check_permutation_invariance",
           "check_save_load"]
