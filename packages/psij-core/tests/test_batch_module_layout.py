"""psij.executors.batch.batch_scheduler_executor was split along its jobs (configuration,
psij-python's hooks, scheduler commands, submit script, status-engine client, submission):
every name it held stays importable from it, and the parts only add to each other."""

import psij.executors.batch.batch_scheduler_executor as bse
from psij.job_executor import JobExecutor

# every name the module held before the split (third-party executors import from it)
NAMES = [
    'Any', 'BatchSchedulerExecutor', 'BatchSchedulerExecutorConfig', 'Collection', 'Dict', 'IO',
    'InvalidJobException', 'InvalidJobStateError', 'Iterable', 'Job', 'JobExecutor',
    'JobExecutorConfig', 'JobSpec', 'JobState', 'JobStatus', 'List', 'Optional', 'Path',
    'Pattern', 'ResourceSpecV1', 'SCHEDULER_FIELDS', 'ScriptBasedLauncher', 'StatusEngine',
    'SubmitException', 'Tuple', 'UNKNOWN_ERROR', 'Union', '_LOGIN_VARIABLES', '_ONE_OF_HOOKS',
    '_REQUIRED_HOOKS', '_UNSAFE_ID_CHARACTER', '_check_hooks', '_check_native_id_pattern',
    '_checked_classes', '_drop_inherited_environment', '_pattern_text', 'arrays', 'cast',
    'check_status_exit_code', 'custom_attribute_key', 'directive_value', 'env_assignment',
    'fields_set', 'get_logger', 'is_transient', 'job_files', 'launch_script_text', 'logger',
    'os', 'quote', 'quote_all', 'quote_code', 're', 'run_command', 'staging_script',
    'subprocess', 'threading', 'time', 'timedelta']


def test_every_name_of_the_module_before_its_split_is_still_there():
    missing = [n for n in NAMES if not hasattr(bse, n)]
    assert not missing, missing


def test_each_member_of_the_executor_is_defined_in_one_part_only():
    # a pure split: no part overrides another's member (what a subclass overrides is the
    # same as before, whichever part defines it); _abc_impl: each ABC class's own
    parts = bse.BatchSchedulerExecutor.__mro__
    parts = parts[:parts.index(JobExecutor)]
    assert len(parts) > 4, parts
    where = {}
    twice = []
    for part in parts:
        for name in vars(part):
            if name == '_abc_impl' or (name.startswith('__') and name.endswith('__')):
                continue
            if name in where:
                twice.append((name, where[name], part.__name__))
            where[name] = part.__name__
    assert not twice, twice
