"""Analysis of run files: :func:`open_run` and clonal structure (:mod:`.clonal`)."""

from .run import Frames, Run, open_run

__all__ = ["Frames", "Run", "open_run"]
