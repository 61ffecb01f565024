"""symae-seis: seismic redatuming with symmetric autoencoders (SymAE).

Subpackages
-----------
catalog   data_catalog.yaml parsing and validation
io        SEG-Y / miniSEED readers and writers, HDF5 instance store
models    SymAE as a plain ``torch.nn.Module`` (no Lightning)
training  LightningModule, DataModule, callbacks
redatum   latent code swapping: virtual gathers and residuals
qc        NRMS, predictability, time shifts, plots
synth     synthetic surveys with ground truth
bench     the science of the benchmarks (surveys, scoring, results and their tables)
"""

import logging
from importlib import metadata

try:  # the version lives in one place: pyproject.toml
    __version__ = metadata.version("symae-seis")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
