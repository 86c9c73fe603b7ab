"""Movies of the lattice frames: GIF (Pillow, always available) or MP4
(ffmpeg: the one on PATH, else the binary bundled by ``imageio-ffmpeg``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import InputError

MOVIE_SIZE_IN, MOVIE_DPI = 6.0, 80  # 480 x 480 pixels (even sides, as H.264 needs)


def ffmpeg_path() -> str | None:
    exe = shutil.which("ffmpeg")
    if exe:
        return exe
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        return None


def write_movie(run, out: str | Path, fps: int = 8) -> Path:
    """Render every frame of ``run`` to ``out`` (.gif or .mp4)."""
    from matplotlib import animation
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .snapshot import Snapshot

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == ".gif":
        writer = animation.PillowWriter(fps=fps)
    elif suffix == ".mp4":
        exe = ffmpeg_path()
        if exe is None:
            raise InputError(f"{out}: MP4 needs ffmpeg (pip install imageio-ffmpeg, or install ffmpeg); "
                             "or write a .gif")
        import matplotlib

        matplotlib.rcParams["animation.ffmpeg_path"] = exe
        writer = animation.FFMpegWriter(fps=fps, codec="libx264", extra_args=["-pix_fmt", "yuv420p"])
    else:
        raise InputError(f"{out}: movie must be .gif or .mp4")
    fig = Figure(figsize=(MOVIE_SIZE_IN, MOVIE_SIZE_IN), dpi=MOVIE_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    frames = run.frames("tumour_clone")
    snap = Snapshot(fig.add_subplot(), run, 0, view_frames=list(range(len(frames))),  # one view for all frames
                    legend="below")
    anim = animation.FuncAnimation(fig, snap.update, frames=len(snap.clones), blit=False)
    anim.save(out, writer=writer, dpi=MOVIE_DPI)
    return out
