"""@njit kernels: pure functions over the flat parameter buffer and plain arrays.

Nothing here knows about Python classes, random state or files.
"""
