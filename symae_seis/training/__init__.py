"""Training: the LightningModule, the DataModule and callbacks (joins io and models)."""

from .callbacks import ExportModel, LossCurvePlot, plot_loss_curve
from .datamodule import DatapointDataset, InstancesError, SymAEDataModule
from .module import NonFiniteLossError, SymAELit

__all__ = [
    "SymAELit",
    "SymAEDataModule",
    "DatapointDataset",
    "InstancesError",
    "NonFiniteLossError",
    "LossCurvePlot",
    "ExportModel",
    "plot_loss_curve",
]
