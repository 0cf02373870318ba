"""A small neural-network library written with NumPy alone.

Public names follow the blog this project grew from (``Layer``, ``Dense``, ``activations``,
``Model``, ``mse``, ``d_mse``, ``train_step``, ``fit``), with its defects fixed. ``Layer`` is
the base class of every layer (``Layer(neurons)`` still builds the blog's linear layer, a
``Dense``); ``nn.activations`` is the module of activation functions, which also reads as the
blog's table (``nn.activations["relu"]["function"]``).
"""

from . import activations
from .activations import ACTIVATIONS, get_activation
from .conv import Conv2D, MaxPool2D
from .io import ModelFileError
from .layers import Dense, Flatten, Layer, Module, Reshape, layer_from_config
from .losses import LOSSES, cross_entropy, d_mse, d_softmax_cross_entropy, get_loss, mse
from .model import Model, as_one_hot
from .optimizers import OPTIMIZERS, SGD, Adam, Momentum, Optimizer, get_optimizer
from .parameters import FlatParameters
from .training import History, Progress, TrainingDiverged, fit, train_step

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "OPTIMIZERS",
    "SGD",
    "Adam",
    "Conv2D",
    "Dense",
    "FlatParameters",
    "Flatten",
    "History",
    "Layer",
    "MaxPool2D",
    "Model",
    "ModelFileError",
    "Module",
    "Momentum",
    "Optimizer",
    "Progress",
    "Reshape",
    "TrainingDiverged",
    "activations",
    "as_one_hot",
    "cross_entropy",
    "d_mse",
    "d_softmax_cross_entropy",
    "fit",
    "get_activation",
    "get_loss",
    "get_optimizer",
    "layer_from_config",
    "mse",
    "train_step",
]
