"""The model file: one .npz with the flat buffer, the configuration and the training state.

Written atomically (a temporary file in the same folder, then a rename), so an interrupted
save leaves any earlier file as it was.
"""
from __future__ import annotations

import json
import os

import numpy as np

from .atomic import write_atomically

FORMAT = "fastmlp-model-1"


def checked_path(path) -> str:
    """``path`` as an absolute path a model file can be written to, checked before training."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"a model path must be a str or os.PathLike; got {path!r}")
    path = os.path.abspath(os.fspath(path))
    if not os.path.isdir(os.path.dirname(path)):
        raise ValueError(f"cannot write {path!r}: its folder does not exist")
    return path


def write(path, config: dict, params: np.ndarray, state: dict, buffers: np.ndarray) -> None:
    """Write the model; ``state`` and the optimizer's ``buffers`` ``(rows, n_params)`` hold
    what training needs to go on exactly (the random state, epochs trained, the optimizer's
    name and step count)."""
    write_atomically(os.path.abspath(os.fspath(path)), lambda f: np.savez(
        f, format=np.array(FORMAT), config=np.array(json.dumps(config)), params=params,
        state=np.array(json.dumps(state)), optimizer_state=buffers))


def read(path) -> tuple[dict, np.ndarray, dict, np.ndarray]:
    """(config, params, state, optimizer buffers) from a model file; ValueError if it is not
    one."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("it holds a bare array, not an .npz archive")
            if "format" not in data.files or str(data["format"]) != FORMAT:
                raise ValueError(f"it has no {FORMAT!r} marker")
            config = json.loads(str(data["config"]))
            params = np.array(data["params"])
            if "state" in data.files:
                state = json.loads(str(data["state"]))
                buffers = np.array(data["optimizer_state"])
            else:  # written before the state held more than the random state
                state = {"rng": json.loads(str(data["rng_state"])), "epochs_trained": 0}
                buffers = np.zeros((0, params.size), params.dtype)
    except Exception as e:
        raise ValueError(f"{path!r} is not a readable fastmlp model ({type(e).__name__}: {e}); "
                         f"expected a file written by Network.save") from e
    return config, params, state, buffers
