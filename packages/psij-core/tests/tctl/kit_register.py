"""Registers the tctl executor and its planted mistakes for runs of the conformance kit
(``--psij-import tctl.kit_register``)."""

from psij import Descriptor, JobExecutor

UNSUPPORTED = {'multi_process': 'one process per job', 'multi_node': 'one host',
               'walltime': 'not enforced', 'memory_limits': 'not enforced'}

for _name, _cls in (('tctl', 'TctlJobExecutor'), ('tctl-noaccount', 'NoAccount'),
                    ('tctl-nocancel', 'NoCancel')):
    if _name not in JobExecutor.get_executor_names():
        _module = 'tctl.executor' if _name == 'tctl' else 'tctl.planted'
        JobExecutor.register_executor(Descriptor(
            name=_name, version='1.0', cls='%s.%s' % (_module, _cls), unsupported=UNSUPPORTED))
