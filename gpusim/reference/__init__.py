"""The NumPy reference backend: the model's rules written out in vectorised
NumPy, independently of the kernels and calling no compiled code.  It is the
executable specification and the oracle the kernel backends are tested
against (byte-identical results).

Importing a rule module (``gpusim.reference.tcell``, whose ``can_kill`` the
observables use) does not load the backend: it loads on first use of
``gpusim.reference.ReferenceBackend``.
"""

__all__ = ["ReferenceBackend"]


def __getattr__(name: str):
    if name == "ReferenceBackend":
        from .backend import ReferenceBackend

        return ReferenceBackend
    raise AttributeError(f"module 'gpusim.reference' has no attribute {name!r}")
