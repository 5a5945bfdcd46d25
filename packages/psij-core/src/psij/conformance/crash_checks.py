"""
`CrashChecks`: the process that submitted the jobs dies; another one finds out what became of
every one of them.

A helper process (:mod:`psij.conformance._crash_child`) submits ``--psij-crash-jobs`` (50)
jobs with mixed outcomes, writing each native id as it goes, and is killed with SIGKILL while
some of them still run. Half of the running jobs are then let end while no process follows
them; the check attaches every job with a new executor instance (the other half of the running
ones with `attach`, each released at once; all the rest in one `attach_many`), lets the other
half end, and each job must reach its true final state and exit code; none may hang.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Tuple

from psij import Job, JobSpec, JobState
from psij.conformance import capabilities as cap
from psij.conformance.base import KitBase, requires
from psij.conformance.harness import Kit
from psij.serialize import JSONSerializer

SIGKILL_CODES = frozenset({-9, 137, 265})
"""Exit codes that say "killed by SIGKILL" (the kit's signal check accepts the same)."""


@dataclass(eq=False)
class _Planned:
    """One job of the crash check and what must become of it."""

    kind: str
    spec: JobSpec
    state: JobState
    codes: FrozenSet[int]
    release: Optional[Path] = None
    started: Optional[Path] = None
    native_id: Optional[str] = None
    job: Optional[Job] = field(default=None, repr=False)


def _plan(kit: Kit, n: int) -> List[_Planned]:
    """`n` jobs, cycling through: exit 0, exit 3, a short sleep then exit 5, killed by
    SIGKILL (exit 4 instead where signal exit codes are unsupported), running until released
    (then exit 7; exit 99 if not released within the per-check timeout)."""
    out: List[_Planned] = []
    signals = cap.SIGNAL_EXIT not in kit.unsupported
    for i in range(n):
        k = i % 5
        if k == 0:
            out.append(_Planned('exit 0', kit.sh_spec('exit 0'), JobState.COMPLETED,
                                frozenset({0})))
        elif k == 1:
            out.append(_Planned('exit 3', kit.sh_spec('exit 3'), JobState.FAILED,
                                frozenset({3})))
        elif k == 2:
            out.append(_Planned('sleep, exit 5', kit.sh_spec('sleep 1; exit 5'), JobState.FAILED,
                                frozenset({5})))
        elif k == 3 and signals:
            out.append(_Planned('SIGKILL', kit.sh_spec('kill -KILL $$'), JobState.FAILED,
                                SIGKILL_CODES))
        elif k == 3:
            out.append(_Planned('exit 4', kit.sh_spec('exit 4'), JobState.FAILED,
                                frozenset({4})))
        else:
            spec, started, release = kit.blocking_spec(code=7)
            out.append(_Planned('running', spec, JobState.FAILED, frozenset({7}), release,
                                started))
    return out


def _read_ids(path: Path) -> Dict[int, str]:
    ids: Dict[int, str] = {}
    if path.exists():
        for line in path.read_text(encoding='utf-8').splitlines():
            i, sep, nid = line.partition('\t')
            if sep:
                ids[int(i)] = nid
    return ids


def _submit_and_kill(kit: Kit, plan: List[_Planned]) -> Tuple[Dict[int, str], str]:
    """Runs the helper until every id is written and a job runs, then SIGKILLs it."""
    specs, ids_file = kit.unique('specs.json'), kit.unique('native-ids')
    ser = JSONSerializer()
    specs.write_text(json.dumps([ser.to_dict(p.spec) for p in plan]), encoding='utf-8')
    cmd = kit.helper_command('psij.conformance._crash_child', str(specs), str(ids_file))
    err = kit.unique('child-stderr')
    with open(err, 'wb') as e:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=e,
                                start_new_session=True)
    try:
        blocked = [p.started for p in plan if p.started is not None]
        half = time.monotonic() + kit.remaining() / 2
        while time.monotonic() < half and proc.poll() is None:
            if len(_read_ids(ids_file)) == len(plan) and \
                    (not blocked or any(b.exists() for b in blocked)):
                break
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return _read_ids(ids_file), err.read_text(errors='replace')[-2000:]


class CrashChecks(KitBase):
    """Jobs outlive the process that submitted them, with their true final states."""

    @requires(cap.ATTACH_OTHER_PROCESS)
    def test_attach_after_submitter_killed(self, kit: Kit) -> None:
        """``--psij-crash-jobs`` (50) jobs with mixed outcomes, submitted by a process killed
        with SIGKILL mid-flight, all reach their true final state and exit code when attached
        by a new executor instance."""
        plan = _plan(kit, kit.options.crash_jobs)
        t0 = time.monotonic()
        ids, child_err = _submit_and_kill(kit, plan)
        timing = ['%.1f s from start to SIGKILL' % (time.monotonic() - t0)]
        refused = {i: nid[1:] for i, nid in ids.items() if nid.startswith('!')}
        assert not refused, 'submit() failed in the submitting process: %s' % refused
        assert len(ids) == len(plan), (
            'the submitting process wrote %d of %d native ids before the check\'s deadline:\n%s'
            % (len(ids), len(plan), child_err))
        # half of the running jobs end while no process follows them, half after the attach
        for p in [p for p in plan if p.release is not None][::2]:
            assert p.release is not None
            p.release.touch()
        t1 = time.monotonic()
        ex = kit.new_executor()
        # the still running ones first, released as soon as they are attached: attach() may
        # ask the scheduler once per job, and they must not outwait their own time limit
        late = [i for i, p in enumerate(plan) if p.release is not None][1::2]
        for i in range(len(plan)):
            p = plan[i]
            p.native_id = ids[i]
            p.job = Job()
            p.job.set_job_status_callback(kit.recorder.job_callback)
            kit.jobs.append(p.job)
        for i in late:
            p = plan[i]
            assert p.job is not None and p.native_id is not None and p.release is not None
            ex.attach(p.job, p.native_id)
            p.release.touch()
        # the others all at once, through attach_many
        rest = [(p.job, p.native_id) for i, p in enumerate(plan)
                if i not in late and p.job is not None and p.native_id is not None]
        refused_attach = ex.attach_many(rest)
        assert not refused_attach, 'attach_many() refused jobs: %s' % ', '.join(
            '%s: %s' % (j.native_id, e) for j, e in refused_attach)
        for i, p in enumerate(plan):
            if i not in late and p.release is not None:
                p.release.touch()
        attach_time = time.monotonic() - t1
        timing.append('%.1f s to attach %d jobs' % (attach_time, len(plan)))
        # the per-check timeout bounds the wait for the jobs' ends, not attach() itself
        kit.deadline = max(kit.deadline, time.monotonic() + kit.options.timeout)
        wrong: List[str] = []
        for i, p in enumerate(plan):
            assert p.job is not None
            st = p.job.wait(timeout=kit.remaining())
            if st is None:
                wrong.append('job %d (%s, native id %s): no final state within the per-check '
                             'timeout; status %s' % (i, p.kind, p.native_id, p.job.status))
                continue
            finals = [s for s in kit.recorder.states(p.job) if s.final]
            if st.state is not p.state or st.exit_code not in p.codes or len(finals) != 1:
                wrong.append('job %d (%s, native id %s): expected %s with exit code %s, got '
                             '%s with exit code %s%s (final states reported: %s)'
                             % (i, p.kind, p.native_id, p.state, '/'.join(map(str, sorted(
                                 p.codes))), st.state, st.exit_code,
                                ' (%s)' % st.message if st.message else '',
                                ', '.join(map(str, finals))))
        assert not wrong, ('%d of %d jobs submitted by a killed process are misreported (%s; '
                           'exit code 99: a running job was released too late, after the '
                           'per-check timeout):\n%s'
                           % (len(wrong), len(plan), ', '.join(timing), '\n'.join(wrong)))
