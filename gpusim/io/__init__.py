"""Run files (HDF5, H5MD conventions)."""
