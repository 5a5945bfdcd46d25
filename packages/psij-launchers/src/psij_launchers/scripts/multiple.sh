# psij-launchers `multiple`: starts N copies of a command on this node.
#
# Run as:  sh -c "$(cat multiple.sh)" psij-multiple N COMMAND [ARG...]
# (the launcher passes this text with `sh -c`, so no file needs to exist on the node, and the
# user's command and arguments arrive as positional parameters: never parsed, never expanded).
#
# Each copy gets PSIJ_RANK (0..N-1) and PSIJ_SIZE (N). Rank 0 reads the job's stdin, the others
# read /dev/null (as with mpirun). All copies write straight to the job's stdout and stderr.
# Exit code: the first non-zero exit code of a copy, in the order the copies end, else 0.
#
# How: every copy runs in a forked subshell that, when its copy ends, writes the exit code as
# one line to a pipe shared by all subshells (short pipe writes are atomic); one reader takes
# the first non-zero line. No process per copy besides the copy and its subshell.

n=$1
shift
case $n in
    '' | *[!0-9]*) echo "PSIJ_LAUNCHER_FAILURE: multiple: invalid process count '$n'" >&2; exit 127 ;;
esac
PSIJ_SIZE=$n
export PSIJ_SIZE
if [ "$n" -eq 1 ]; then
    PSIJ_RANK=0
    export PSIJ_RANK
    exec "$@"
fi
exec 3>&1 4<&0
code=$(
    {
    i=0
    while [ "$i" -lt "$n" ]; do
        if [ "$i" -eq 0 ]; then
            (PSIJ_RANK=0; export PSIJ_RANK; "$@" <&4 >&3 3>&- 4<&-; echo $?) &
        else
            (PSIJ_RANK=$i; export PSIJ_RANK; "$@" </dev/null >&3 3>&- 4<&-; echo $?) &
        fi
        i=$((i + 1))
    done
    wait
    } | {
        first=0
        while read -r c; do
            if [ "$first" = 0 ]; then first=$c; fi
        done
        echo "$first"
    }
)
exit "${code:-127}"
