/*
 * Test program for psij-launchers: one line per rank on stdout,
 *   rank=<R> size=<S> argv=<hex of argv[1..] joined by 0x01> env=<hex of $PSIJ_TEST_ENV>
 *   pre=<hex of $PSIJ_TEST_PRE>
 * (hex, so that the test can compare the bytes exactly), "stderr-rank=<R>" on stderr, and
 * exits with $PSIJ_TEST_FAIL_CODE on the rank numbered $PSIJ_TEST_FAIL_RANK, 0 elsewhere.
 * and "host=<$SLURMD_NODENAME or gethostname()>" as a last field on stdout.
 * Built with mpicc (-DWITH_MPI: rank and size from MPI_Comm_rank/MPI_Comm_size) or with cc
 * (rank and size from the first variable of rank_vars/size_vars that is set).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef WITH_MPI
#include <mpi.h>
#endif

static void hex(const char *s, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (; s && *s; s++) {
        *out++ = digits[(unsigned char)*s >> 4];
        *out++ = digits[(unsigned char)*s & 15];
    }
    *out = 0;
}

#ifndef WITH_MPI
/* where launchers without MPI put the rank and size: ours, Slurm, jsrun, aprun, PMI */
static const char *rank_vars[] = {"PSIJ_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK",
                                  "ALPS_APP_PE", "PMI_RANK", NULL};
static const char *size_vars[] = {"PSIJ_SIZE", "SLURM_NTASKS", "JSM_NAMESPACE_SIZE",
                                  "PMI_SIZE", NULL};

static int first_int(const char **names) {
    for (; *names; names++)
        if (getenv(*names)) return atoi(getenv(*names));
    return -1;
}
#endif

int main(int argc, char **argv) {
    int rank = -1, size = -1, i;
    size_t total = 1;
    char *joined, *buf, *line, host[256] = {0};
    int len;
    const char *env = getenv("PSIJ_TEST_ENV"), *pre = getenv("PSIJ_TEST_PRE");
    const char *fail_rank = getenv("PSIJ_TEST_FAIL_RANK");
    const char *fail_code = getenv("PSIJ_TEST_FAIL_CODE");
#ifdef WITH_MPI
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
#else
    rank = first_int(rank_vars);
    size = first_int(size_vars);
#endif
    for (i = 1; i < argc; i++) total += strlen(argv[i]) + 1;
    total += (env ? strlen(env) : 0) + (pre ? strlen(pre) : 0);
    joined = calloc(total, 1);
    buf = calloc(2 * total + 1, 1);
    for (i = 1; i < argc; i++) {
        if (i > 1) strcat(joined, "\x01");
        strcat(joined, argv[i]);
    }
    /* the whole line in one write(): MPI may leave stdout unbuffered, and pieces written
       separately by different ranks may interleave */
    line = calloc(6 * total + 512, 1);
    hex(joined, buf);
    len = sprintf(line, "rank=%d size=%d argv=%s", rank, size, buf);
    hex(env, buf);
    len += sprintf(line + len, " env=%s", buf);
    hex(pre, buf);
    len += sprintf(line + len, " pre=%s", buf);
    if (getenv("SLURMD_NODENAME")) {
        len += sprintf(line + len, " host=%.200s\n", getenv("SLURMD_NODENAME"));
    } else {
        gethostname(host, sizeof host - 1);
        len += sprintf(line + len, " host=%.200s\n", host);
    }
    if (write(1, line, (size_t)len) != len) return 99;
    fprintf(stderr, "stderr-rank=%d\n", rank);
#ifdef WITH_MPI
    MPI_Finalize();
#endif
    if (fail_rank && fail_code && atoi(fail_rank) == rank) return atoi(fail_code);
    return 0;
}
