"""Kernel engine: runs ``kernels/*.cu`` on the host (cpu) or a GPU (cuda)."""
