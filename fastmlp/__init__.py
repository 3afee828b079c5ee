"""fastmlp: fast CPU training of small fully-connected networks.

Numba kernels train over one flat, contiguous parameter buffer; ``fastmlp.reference`` holds
the same math in plain NumPy.
"""
from . import datasets
from .training import DivergenceError
from .network import Network
from .compiling import precompile

__version__ = "0.1.0"
__all__ = ["Network", "DivergenceError", "datasets", "precompile", "__version__"]
