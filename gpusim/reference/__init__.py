"""The NumPy reference backend: the model's rules written out in vectorised
NumPy, independently of the kernels and calling no compiled code.  It is the
executable specification and the oracle the kernel backends are tested
against (byte-identical results)."""

from .backend import ReferenceBackend

__all__ = ["ReferenceBackend"]
