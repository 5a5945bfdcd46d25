# psij-launchers `mpirun`: runs a command with the MPI found on PATH as `mpirun`.
#
# Run as:  sh -c "$(cat mpirun.sh)" psij-mpirun NP PPN CPP [SITE_OPTION...] COMMAND [ARG...]
# NP is the process count; PPN (processes per node) and CPP (cores per process) are empty when
# the job did not ask for them, and then no flag is given for them. SITE_OPTIONs (from
# PSIJ_MPIRUN_OPTIONS where the job was submitted) go to mpirun as they are, after our flags.
# The user's command and arguments arrive as positional parameters: never parsed, never
# expanded.
#
# The flavour is asked from `mpirun --version` here, on the node that runs the job, because the
# MPI there (modules, alternatives) need not be the one seen when the job was submitted.
# If the executor exported PSIJ_NODEFILE (one line per process slot), it is given as the host
# file: the slots are then exactly the job's, so no oversubscription option is needed, and Open
# MPI maps by slot instead of by a per-node count.
# Nothing else is added: running as root (Open MPI refuses without being told) and any other
# site preference go through MPI's own environment variables (OMPI_ALLOW_RUN_AS_ROOT, OMPI_MCA_*,
# HYDRA_*), set by whoever needs them.

np=$1 ppn=$2 cpp=$3
shift 3
# A job that does not inherit the environment has no PATH: the shell then searches its default
# path, and exporting that lets mpirun find its own helpers (Open MPI fails without a PATH).
export PATH
version=$(mpirun --version 2>&1) || {
    echo "PSIJ_LAUNCHER_FAILURE: mpirun: 'mpirun --version' failed: $version" >&2
    exit 127
}
case $version in
    *'Open MPI'* | *'OpenRTE'*)
        set -- -n "$np" "$@"
        if [ -n "${PSIJ_NODEFILE:-}" ]; then
            # the host file holds exactly the job's slots, so processes go slot by slot: a
            # per-node count would fail where the scheduler's nodes are vnodes of one host
            # (the file then names that host N times, and Open MPI sees one node)
            if [ -n "$cpp" ]; then
                set -- --map-by "slot:PE=$cpp" "$@"
            else
                set -- --map-by slot "$@"
            fi
            set -- --hostfile "$PSIJ_NODEFILE" "$@"
        elif [ -n "$ppn" ] && [ -n "$cpp" ]; then
            set -- --map-by "ppr:$ppn:node:PE=$cpp" "$@"
        elif [ -n "$ppn" ]; then
            set -- --map-by "ppr:$ppn:node" "$@"
        elif [ -n "$cpp" ]; then
            set -- --map-by "slot:PE=$cpp" "$@"
        fi
        ;;
    *HYDRA* | *Hydra*)
        set -- -n "$np" "$@"
        if [ -n "$ppn" ]; then
            set -- -ppn "$ppn" "$@"
        fi
        if [ -n "$cpp" ]; then
            set -- -bind-to "core:$cpp" "$@"
        fi
        if [ -n "${PSIJ_NODEFILE:-}" ]; then
            set -- -f "$PSIJ_NODEFILE" "$@"
        fi
        ;;
    *)
        if [ -n "$ppn$cpp" ]; then
            echo "PSIJ_LAUNCHER_FAILURE: mpirun: unknown MPI flavour (neither Open MPI nor" \
                "MPICH/Hydra); cannot place processes_per_node/cpu_cores_per_process." \
                "'mpirun --version' said: $version" >&2
            exit 127
        fi
        set -- -n "$np" "$@"
        ;;
esac
exec mpirun "$@"
