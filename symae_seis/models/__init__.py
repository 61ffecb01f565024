"""Models: plain ``torch.nn.Module`` classes (this subpackage imports only torch)."""

from .symae import ModelFileError, SymAE, check_permutation_invariance, check_save_load

__all__ = ["SymAE", "ModelFileError", "check_permutation_invariance", "check_save_load"]
