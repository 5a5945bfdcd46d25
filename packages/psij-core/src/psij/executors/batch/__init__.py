"""The batch-scheduler framework: the base of the Slurm, PBS and LSF executors."""
