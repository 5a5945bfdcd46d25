"""
The partials psij-python's submit-script templates include, written by psij for each job.

psij-python's templates (from its 0.9 releases on) include four partials of psij-python's own:
``{{> batch_lib}}`` (shell functions), ``{{> stagein}}`` (after changing to the job's
directory), ``{{> stageout}}`` and ``{{> cleanup}}`` (after the job's command, whose exit code
is in ``$_PSIJ_JOB_EC``). psij gives such a template its own text for each, so that an
executor written for psij-python runs unchanged, with psij's staging done inside the job (see
:mod:`psij.executors.batch.staging_script`):

- ``batch_lib`` defines ``_psij_update_status`` (it does nothing: psij follows the job's
  states through the scheduler, not through messages from the job) and ``_psij_fail CODE
  MESSAGE`` (prints the message, exits with the code);
- ``stagein`` stages in, and installs the ``TERM`` trap that stages out a canceled job's
  ``ON_CANCEL`` entries; a failed stage-in ends the script with exit code 1 and a
  ``psij: stage-in ...`` line, after the cleanup a failed job gets;
- ``stageout`` stages out the entries whose flags select the job's outcome; a failed
  mandatory stage-out makes ``$_PSIJ_JOB_EC`` 1 if it was 0;
- ``cleanup`` deletes the ``cleanup`` entries if ``cleanup_flags`` select the outcome.

A job without staging gets empty ``stagein``, ``stageout`` and ``cleanup`` partials.
"""

from __future__ import annotations

from typing import Dict

from psij.executors.batch import staging_script
from psij.job_spec import JobSpec
from psij.staging import StageOutFlags

NAMES = ('batch_lib', 'stagein', 'stageout', 'cleanup')
"""The partials psij provides."""

_BATCH_LIB = '''_psij_update_status() {
    :
}
_psij_fail() {
    printf '%s\\n' "$2"
    exit "$1"
}
_psij_end() {
    exit "$1"
}
'''


def partials(spec: JobSpec) -> Dict[str, str]:
    """The text of each partial for a job of `spec`."""
    if not staging_script.stages(spec):
        return {'batch_lib': _BATCH_LIB, 'stagein': '', 'stageout': '', 'cleanup': ''}
    stage_out = '\n'.join([
        'trap - TERM',
        'if [ "$_PSIJ_JOB_EC" = 0 ]; then _psij_outcome=%d; else _psij_outcome=%d; fi'
        % (StageOutFlags.ON_SUCCESS, StageOutFlags.ON_ERROR),
        '_psij_stage_outs || { [ "$_PSIJ_JOB_EC" != 0 ] || _PSIJ_JOB_EC=1; }',
    ]) + '\n'
    return {'batch_lib': _BATCH_LIB,
            'stagein': '\n'.join(staging_script.stage_in_lines(spec)) + '\n',
            'stageout': stage_out, 'cleanup': '_psij_cleanups\n'}
