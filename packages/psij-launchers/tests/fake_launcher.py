"""
A stand-in for ``jsrun``, ``aprun`` and ``ibrun`` (which cannot run here), installed by the tests
on ``PATH`` under those names.

It records the exact argv and environment it was started with (JSON, to ``$FAKE_LAUNCHER_RECORD``),
parses its options by the real tool's documented meaning, refusing any other option as the real
tool would, and then runs the ranks on this machine, concurrently, each with the rank variable
the real tool sets. It exits with the first non-zero exit code of a rank, in the order they end.

- jsrun (IBM JSM): ``-n/--nrs`` resource sets, ``-a/--tasks_per_rs`` tasks per set (default 1),
  ``-c/--cpu_per_rs``, ``-g/--gpu_per_rs``, ``-r/--rs_per_host``; ranks = nrs * tasks_per_rs;
  sets ``JSM_NAMESPACE_RANK`` / ``JSM_NAMESPACE_SIZE``.
- aprun (Cray ALPS): ``-n`` width (PEs), ``-N`` PEs per node, ``-d`` depth (CPUs per PE);
  ranks = width; sets ``ALPS_APP_PE``.
- ibrun (TACC): ``-n`` tasks and ``-o`` offset; without ``-n`` it runs the allocation's
  ``$SLURM_NTASKS`` tasks; sets ``PMI_RANK`` / ``PMI_SIZE``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Dict, List, Tuple

OPTIONS = {
    'jsrun': {'-n': 'nrs', '--nrs': 'nrs', '-a': 'tasks_per_rs', '--tasks_per_rs': 'tasks_per_rs',
              '-c': 'cpu_per_rs', '--cpu_per_rs': 'cpu_per_rs', '-g': 'gpu_per_rs',
              '--gpu_per_rs': 'gpu_per_rs', '-r': 'rs_per_host', '--rs_per_host': 'rs_per_host'},
    'aprun': {'-n': 'width', '-N': 'per_node', '-d': 'depth'},
    'ibrun': {'-n': 'tasks', '-o': 'offset'},
}


def parse(tool: str, args: List[str]) -> Tuple[Dict[str, int], List[str]]:
    """Options up to the first non-option (the executable), like the real tools."""
    known = OPTIONS[tool]
    opts: Dict[str, int] = {}
    i = 0
    while i < len(args) and args[i].startswith('-'):
        name, eq, value = args[i].partition('=')
        if name not in known:
            sys.exit('%s: unknown option %r' % (tool, args[i]))
        if not eq:
            i += 1
            if i == len(args):
                sys.exit('%s: option %s needs a value' % (tool, name))
            value = args[i]
        if known[name] in opts:
            sys.exit('%s: option %s given twice' % (tool, name))
        opts[known[name]] = int(value)
        i += 1
    if i == len(args):
        sys.exit('%s: no executable' % tool)
    return opts, args[i:]


def ranks(tool: str, opts: Dict[str, int]) -> Tuple[int, List[Dict[str, str]]]:
    """The rank count and each rank's extra environment."""
    if tool == 'jsrun':
        n = opts['nrs'] * opts.get('tasks_per_rs', 1)
        return n, [{'JSM_NAMESPACE_RANK': str(r), 'JSM_NAMESPACE_SIZE': str(n)}
                   for r in range(n)]
    if tool == 'aprun':
        n = opts.get('width', 1)
        if opts.get('per_node', n) > n:
            sys.exit('aprun: -N exceeds -n')
        return n, [{'ALPS_APP_PE': str(r)} for r in range(n)]
    if 'tasks' in opts:
        n = opts['tasks']
    elif 'SLURM_NTASKS' in os.environ:
        n = int(os.environ['SLURM_NTASKS'])
    else:
        sys.exit('ibrun: no -n and no SLURM_NTASKS: not in an allocation')
    return n, [{'PMI_RANK': str(r), 'PMI_SIZE': str(n)} for r in range(n)]


def main() -> None:
    tool = os.path.basename(sys.argv[0])
    with open(os.environ['FAKE_LAUNCHER_RECORD'], 'w') as f:
        json.dump({'argv': sys.argv[1:], 'env': dict(os.environ)}, f)
    opts, command = parse(tool, sys.argv[1:])
    _, per_rank = ranks(tool, opts)
    pids = []
    for extra in per_rank:
        pid = os.fork()
        if pid == 0:
            try:
                os.execvpe(command[0], command, dict(os.environ, **extra))
            except OSError as ex:
                print('%s: %s: %s' % (tool, command[0], ex), file=sys.stderr)
                os._exit(127)
        pids.append(pid)
    first = 0
    for _ in pids:
        _, status = os.wait()
        code = os.waitstatus_to_exitcode(status)
        code = code if code >= 0 else 128 - code
        if first == 0:
            first = code
    sys.exit(first)


if __name__ == '__main__':
    main()
