"""Parameter sweeps (virtual patient cohorts), serial or over MPI and Slurm.

One module per job:

* :mod:`.spec`    the sweep spec (TOML, pydantic): base, grid, random, arms, replicates
* :mod:`.runs`    expansion into runs; stable run ids and seeds
* :mod:`.store`   the sweep directory: layout, run status, lock
* :mod:`.worker`  one run (``.part`` then rename); a rank's GPU / OpenMP share
* :mod:`.queue`   the MPI work queue (rank 0 dispatches and works)
* :mod:`.driver`  ``run_sweep``: serial or MPI, resume, progress
* :mod:`.summary` ``summary.h5`` and ``gpusim summarize DIR``
* :mod:`.plots`   ``gpusim plot DIR``
* :mod:`.slurm`   ``gpusim submit``: the sbatch template

mpi4py, pandas, scipy and matplotlib are imported only where used, so
``import gpusim`` (and this package) loads none of them.
"""
