"""gpusim: lattice simulation of cancer immunotherapy, byte-identical on CPU and GPU.

Importing gpusim loads neither CuPy nor a compiler; backends load lazily.

>>> import gpusim
>>> cfg = gpusim.Config.model_validate({"lattice": {"shape": [32, 32]},
...                                     "simulation": {"steps": 20}})
>>> sim = gpusim.Simulation(cfg, backend="numpy")
>>> sim.run()["tumour_cells"] > 0
True
"""

from .version import __version__
from .config import Config, load_config  # noqa: E402
from .batch import run_batch  # noqa: E402
from .simulation import Simulation, resume_run, run_to_file  # noqa: E402
from .scenarios import config_path  # noqa: E402

__all__ = ["Config", "Simulation", "config_path", "load_config", "open_run", "resume_run", "run_batch", "run_to_file",
           "__version__"]


def __getattr__(name: str):
    # open_run needs h5py (and pandas when used): load it on first use only.
    if name == "open_run":
        from .analysis import open_run

        return open_run
    raise AttributeError(f"module 'gpusim' has no attribute {name!r}")
