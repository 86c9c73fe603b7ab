"""gpusim plot RUN.h5|DIR [-o OUT.png] [--movie OUT.gif|OUT.mp4]"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError


def add_parser(sub) -> None:
    p = sub.add_parser("plot", help="growth curves, lattice snapshot, Muller plot; movies of the frames",
                       description="Plot a run file: growth curves with the therapy schedule shaded, a lattice "
                                   "snapshot (escape clones highlighted, T cells on top; mid-z slice in 3D) and "
                                   "a Muller plot of the largest clones.  --movie renders every frame.")
    p.add_argument("path", help="run file (.h5), or a sweep output directory (phase diagram, "
                                "response per arm, waterfall)")
    p.add_argument("-o", "--output", help="PNG to write (default: RUN.png beside the run file; "
                                          "with --movie, only when given)")
    p.add_argument("--movie", metavar="OUT.gif|OUT.mp4", help="render the lattice frames as a movie")
    p.add_argument("--fps", type=int, default=8, help="movie frames per second (default 8)")
    p.add_argument("--frame", type=int, default=-1, help="frame index of the snapshot (default -1: the last)")
    p.add_argument("--top", type=int, default=10, help="clones shown in the Muller plot (default 10)")
    p.add_argument("--curves", metavar="OBSERVABLE",
                   help="sweep directory: every run's OBSERVABLE per arm (median, interquartile band) and "
                        "Kaplan-Meier time to progression (default DIR/curves_<OBSERVABLE>.png)")
    p.set_defaults(func=main)


def plot_dir(path: Path, args) -> list[Path]:
    """Sweep maps of a ``gpusim sweep`` output directory: outcome phase
    diagram, response rate per arm, waterfall (default DIR/sweep.png)."""
    from ..plots.sweep import plot_dir as sweep_plot

    if args.movie:
        raise InputError(f"{path}: --movie needs a run file, not a sweep directory")
    if args.curves:
        from ..plots.cohort import plot_curves

        return [plot_curves(path, Path(args.output) if args.output else path / f"curves_{args.curves}.png",
                            args.curves)]
    return [sweep_plot(path, Path(args.output) if args.output else path / "sweep.png")]


def main(args) -> int:
    path = Path(args.path)
    written = plot_dir(path, args) if path.is_dir() else plot_file(path, args)
    for out in written:
        print(out)
    return 0


def plot_file(path: Path, args) -> list[Path]:
    from ..analysis import open_run
    from ..io.paths import check_output, writing
    from ..io.reader import reading

    outputs = []
    png = Path(args.output) if args.output else (None if args.movie else path.with_suffix(".png"))
    for out in filter(None, (png, args.movie and Path(args.movie))):
        check_output(out)
    if args.movie and Path(args.movie).suffix.lower() not in (".gif", ".mp4"):
        raise InputError(f"{args.movie}: movie must be .gif or .mp4")
    if args.fps < 1:
        raise InputError(f"--fps {args.fps}: must be >= 1")
    if args.top < 1:
        raise InputError(f"--top {args.top}: must be >= 1")
    if args.curves:
        raise InputError(f"{path}: --curves needs a sweep directory, not a run file")
    with reading(path), open_run(path) as run:
        if args.movie and not ("tumour_clone" in run.fields and len(run.frames("tumour_clone"))):
            raise InputError(f"{path}: has no lattice frames to animate (output.frame_every_steps = 0?)")
        if "tumour_clone" in run.fields:
            n = len(run.frames("tumour_clone"))
            if n and not -n <= args.frame < n:
                raise InputError(f"--frame {args.frame}: {path} has {n} frames")
        if png is not None:
            from ..plots import save_run_figure

            with writing(png):
                outputs.append(save_run_figure(run, png, frame=args.frame, top=args.top))
        if args.movie:
            from ..plots.movie import write_movie

            with writing(args.movie):
                outputs.append(write_movie(run, args.movie, fps=args.fps))
    return outputs
