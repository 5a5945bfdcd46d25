"""
Checks that hold an executor to what programs written for psij-python rely on, and to never
dropping a field it cannot honour.

- Every job that ran passes through STAGE_OUT and CLEANUP before its final state, failed
  ones too: the flags decide what is done in those states, not whether they happen.
- Relative staging paths (``StageIn`` targets, ``StageOut`` sources, ``cleanup`` entries) are
  relative to the job's directory; ``StageOutFlags.IF_PRESENT`` alone means every outcome;
  ``cleanup_flags`` decide whether the cleanup is done.
- A missing executable either raises ``SubmitException`` at submit (what psij-python programs
  catch there; an exception that is also an ``InvalidJobException`` is fine) or ends the job
  FAILED with a non-zero exit code; never a bare ``InvalidJobException``.
- A job field that needs a capability the executor declares unsupported is refused at submit
  with ``InvalidJobException`` naming the field, never silently dropped. Checked for the
  capabilities that are job fields with one meaning (staging, pre/post-launch); resources
  (``node_count``, ``process_count``) may legitimately be fitted on one host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import pytest

from psij import (
    InvalidJobException,
    Job,
    JobState,
    StageIn,
    StageOut,
    StageOutFlags,
    SubmitException,
)
from psij.conformance import capabilities as cap
from psij.conformance.base import KitBase, requires
from psij.conformance.harness import Kit

_EVERY_STATE = [JobState.QUEUED, JobState.STAGE_IN, JobState.ACTIVE, JobState.STAGE_OUT,
                JobState.CLEANUP]

# capability -> {field: a value using it}
_FIELDS_OF: Dict[str, Dict[str, Any]] = {
    cap.STAGING: {'stage_in': None, 'stage_out': None, 'cleanup': None},
    cap.PRE_POST_LAUNCH: {'pre_launch': None, 'post_launch': None},
}
_CASES = [(c, f) for c, fields in _FIELDS_OF.items() for f in fields]


def _field_value(kit: Kit, field: str) -> Any:
    src = kit.unique('source')
    src.write_text('in\n')
    script = kit.unique('script.sh')
    script.write_text('true\n')
    return {'stage_in': {StageIn(src, 'in.txt')},
            'stage_out': {StageOut('out.txt', kit.unique('out'))},
            'cleanup': {Path('scratch.txt')},
            'pre_launch': script, 'post_launch': script}[field]


class DropInChecks(KitBase):
    """psij-python's observable behaviour, and refusal of what cannot be honoured."""

    def test_failed_job_passes_through_every_state(self, kit: Kit) -> None:
        """A job exiting 1 delivers QUEUED, STAGE_IN, ACTIVE, STAGE_OUT, CLEANUP, FAILED."""
        job = kit.submit(kit.sh_spec('exit 1'))
        st = kit.wait(job)
        kit.settle()
        assert st.state is JobState.FAILED and st.exit_code == 1, st
        assert kit.recorder.states(job) == _EVERY_STATE + [JobState.FAILED]

    @requires(cap.STAGING)
    def test_relative_staging_paths_in_job_directory(self, kit: Kit) -> None:
        """Relative stage-in targets, stage-out sources and cleanup entries are in the job's
        directory; IF_PRESENT alone stages out whatever the outcome."""
        d = kit.unique('jobdir')
        d.mkdir()
        src, dest = kit.unique('source'), kit.unique('staged-out')
        src.write_text('in\n')
        st = kit.run(kit.sh_spec(
            'cat sub/in.txt; echo x > scratch.txt', directory=d, stdout_path=Path('out.txt'),
            stage_in={StageIn(src, 'sub/in.txt')},
            stage_out={StageOut('out.txt', dest, flags=StageOutFlags.IF_PRESENT)},
            cleanup={'scratch.txt', 'sub'}, cleanup_flags=StageOutFlags.ON_SUCCESS))
        assert st.state is JobState.COMPLETED, st
        assert dest.read_text() == 'in\n', 'out.txt was not staged out of the job directory'
        assert not (d / 'scratch.txt').exists(), 'cleanup did not remove scratch.txt'
        assert not (d / 'sub').exists(), 'cleanup did not remove the directory sub'

    @requires(cap.STAGING)
    def test_cleanup_flags_honoured(self, kit: Kit) -> None:
        """cleanup_flags=ON_ERROR keeps the files of a job that succeeded."""
        d = kit.unique('jobdir')
        d.mkdir()
        st = kit.run(kit.sh_spec('echo x > scratch.txt', directory=d, cleanup={'scratch.txt'},
                                 cleanup_flags=StageOutFlags.ON_ERROR))
        assert st.state is JobState.COMPLETED, st
        assert (d / 'scratch.txt').exists(), 'cleanup ran although cleanup_flags=ON_ERROR'

    def test_missing_executable(self, kit: Kit) -> None:
        """A missing executable raises SubmitException at submit or fails the job with a
        non-zero exit code (psij-python programs do not catch InvalidJobException there)."""
        job = Job(kit.spec(str(kit.unique('no-such-executable'))))
        try:
            kit.submit(job)
        except SubmitException:
            assert job.status.state is JobState.NEW, job.status
            return
        except InvalidJobException as ex:
            pytest.fail('submit() raised %s, an InvalidJobException that is not a '
                        'SubmitException: psij-python programs do not catch it there (%s)'
                        % (type(ex).__name__, ex))
        st = kit.wait(job)
        assert st.state is JobState.FAILED, st
        assert st.exit_code not in (None, 0), 'a missing executable ended with exit code %r' \
            % st.exit_code

    @pytest.mark.parametrize('capability,field', _CASES)
    def test_declared_unsupported_is_refused(self, kit: Kit, capability: str,
                                             field: str) -> None:
        """A job using a capability the executor declares unsupported is refused at submit
        with InvalidJobException naming the field, never run without it."""
        desc = kit.executor.descriptor
        declared = desc.unsupported if desc is not None else {}
        if capability not in declared:
            pytest.skip('the executor does not declare %s unsupported' % capability)
        marker = kit.unique('ran')
        spec = kit.sh_spec(': > "$1"', marker)
        setattr(spec, field, _field_value(kit, field))
        job = Job(spec)
        with pytest.raises(InvalidJobException) as ei:
            kit.executor.submit(job)
        assert field in str(ei.value), 'the message does not name %s: %s' % (field, ei.value)
        assert job.status.state is JobState.NEW
        kit.settle()
        assert not marker.exists(), 'the job ran without its %s' % field


__all__ = ['DropInChecks']
