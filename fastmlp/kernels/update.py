"""Parameter updates: one loop over the flat buffer, whatever the network's shape."""
from .jit import kernel


@kernel
def sgd(params, grad, lr):
    """params -= lr * grad."""
    for k in range(params.shape[0]):
        params[k] -= lr * grad[k]
