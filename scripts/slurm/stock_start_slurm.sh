#!/usr/bin/env bash
# Start a single-node Slurm with a distribution's stock settings: Debian's
# own example slurm.conf (slurm-client's examples/slurm.conf.simple.gz) with
# only the cluster, controller, node and partition lines set for this
# machine, so every other setting is Slurm's default -- notably a requeued
# job held for the credential lifetime (cred_expire, 120 s) and then waiting
# for the scheduler's next pass (sched_interval, 60 s), where CI's Slurm
# (ci_start_slurm.sh) sets cred_expire=15.  The test suite passes on both
# (tests/test_slurm.py reads the running Slurm's settings).  Run as root;
# everything else (packages, munge, waiting for the node) is
# ci_start_slurm.sh's.  Stop it with: kill "$(cat /run/slurmctld.pid)" "$(cat /run/slurmd.pid)"
exec env GPUSIM_SLURM_FLAVOUR=stock "$(dirname "$0")/ci_start_slurm.sh" "$@"
