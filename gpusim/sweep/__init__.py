"""Parameter sweeps (virtual patient cohorts), serial or over MPI and Slurm.

The sweep as data (spec, runs, directory) is :mod:`gpusim.sweepdir`, the
summary table :mod:`gpusim.analysis.sweep_summary`, the figure
:mod:`gpusim.plots.sweep`.  Running it, one module per job:

* :mod:`.worker`  one run (``.part`` then rename); a rank's GPU / OpenMP share
* :mod:`.queue`   the MPI work queue (rank 0 dispatches and works)
* :mod:`.driver`  ``run_sweep``: serial or MPI, resume, progress
* :mod:`.slurm`   ``gpusim submit``: the sbatch template

mpi4py, pandas, scipy and matplotlib are imported only where used, so
``import gpusim`` (and this package) loads none of them.
"""
