"""The LSF simulator against every real output in ``samples/lsf``, so that it cannot drift.

Two kinds of checks:

- layout: the simulator's printing functions, given the values a sample shows (another site's
  job ids, users, hosts and times), print that sample byte for byte;
- behaviour (needs Slurm): the simulated commands, in the situation a sample records, print
  the same message on the same stream with the same exit code (only the job id differs, and
  only where the sample's id cannot be reproduced).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Dict, List, Union

import pytest
from lsf_helpers import run
from lsf_sim import render

S = Path(__file__).parent / 'samples' / 'lsf'
Job = Dict[str, Union[str, List[str]]]


def sample(name: str) -> str:
    return (S / name).read_text()


def test_every_sample_is_checked_here() -> None:
    here = Path(__file__).read_text()
    unused = [p.name for p in S.iterdir() if p.name != 'INDEX.md' and p.name not in here]
    assert not unused, unused


# -- layout -------------------------------------------------------------------------------------

@pytest.mark.parametrize('name,job_id,queue,default', [
    ('bsub_success_queue_ert.out', '984097', 'short', False),
    ('bsub_success_default_queue_nextflow.out', '2329803', 'research-rh6', True),
    ('bsub_success_default_queue_toil.out', '39605914', 'general', True),
])
def test_bsub_submitted(name: str, job_id: str, queue: str, default: bool) -> None:
    assert render.bsub_submitted(job_id, queue, default) == sample(name)


def test_bsub_with_esub_line() -> None:
    assert 'Generic job.\n' + render.bsub_submitted('473713', 'pub.1h', False) == \
        sample('bsub_success_with_esub_line_lsf7.out')


@pytest.mark.parametrize('name,message', [
    ('bsub_error_bad_n.err', 'Bad argument for option -n'),
    ('bsub_error_no_such_queue.err', 'rhel7: No such queue'),
    ('bsub_error_rusage_section.err', 'Error in rusage section'),
    ('bsub_error_select_section_REWRAPPED.err',
     'Error in select section: Error near "rusage" : incorrect section name, resource name, '
     'or resource function name'),
])
def test_bsub_errors(name: str, message: str) -> None:
    assert render.bsub_error(message) == sample(name)


def _lsf7(stat: str, hosts: List[str]) -> Job:
    return {'jobid': '473713', 'user': 'gloessa', 'stat': stat, 'queue': 'pub.1h',
            'from_host': 'brutus2', 'exec_host': hosts, 'job_name': 'TM-T',
            'submit_time': 'Oct 19 17:10'}


@pytest.mark.parametrize('name,stat,hosts', [
    ('bjobs_PEND_lsf7.out', 'PEND', []), ('bjobs_RUN_lsf7.out', 'RUN', ['a6128']),
    ('bjobs_EXIT_killed_lsf7.out', 'EXIT', ['a6128'])])
def test_default_table(name: str, stat: str, hosts: List[str]) -> None:
    assert render.table([_lsf7(stat, hosts)]) == sample(name)


def test_wide_extended_table() -> None:
    job = _lsf7('EXIT', ['a6128'])
    job.update(submit_time='10/19-17:10:27', proj_name='default', cpu_used='000:00:00.12',
               mem='5208', swap='206312', pids='23177,23178,23182,23259',
               start_time='10/19-17:11:02', finish_time='10/19-17:14:49')
    assert render.table([job], extended=True) == sample('bjobs_-W_-w_EXIT_killed_lsf7.out')


def _whitehead(job_id: str, stat: str, name: str, hosts: List[str], submit: str) -> Job:
    return {'jobid': job_id, 'user': 'pluskal', 'stat': stat, 'queue': 'normal',
            'from_host': 'it-c01b14', 'exec_host': hosts, 'job_name': name,
            'submit_time': submit}


def test_multi_slot_lines_and_cut_names() -> None:
    run_ = _whitehead('5182892', 'RUN', 'nf-trinityInchwormChrysalis', ['it-bigboy'] * 10,
                      'Nov 19 12:57')
    assert render.table([run_]) == sample('bjobs_-a_RUN_multihost.out')
    done = _whitehead('5182966', 'DONE', 'nf-something_el.208.sh', ['it-c05b10'] * 2,
                      'Nov 19 13:22')
    assert render.table([done]) == sample('bjobs_-a_DONE.out')


def _rows(text: str) -> List[Job]:
    """The jobs of a -w table (whose columns hold no blanks except JOB_NAME)."""
    jobs: List[Job] = []
    for line in text.splitlines()[1:]:
        w = line.split()
        if not w or w[0].startswith('LSF'):
            continue
        jobs.append({'jobid': w[0], 'user': w[1], 'stat': w[2], 'queue': w[3],
                     'from_host': w[4], 'exec_host': w[5].split(':'),
                     'job_name': ' '.join(w[6:-3]), 'submit_time': ' '.join(w[-3:])})
    return jobs


def test_wide_table_of_every_state() -> None:
    text = sample('bjobs_-w_all_states_nextflow.out')
    assert render.table(_rows(text), wide=True) == text


def test_please_wait_prefix() -> None:
    text = sample('bjobs_with_please_wait_prefix_nextflow.out')
    jobs = [{'jobid': j, 'user': 'pluskal', 'stat': 'RUN', 'queue': 'normal',
             'from_host': 'it-c05b07', 'exec_host': ['it-c05b10'],
             'job_name': 'nf-RSEM_cmd_' + suffix, 'submit_time': 'Nov 14 13:00'}
            for j, suffix in (('5157393', 'l_cmd_bd)'), ('5157493', 'l_cmd_cn)'),
                              ('5157552', 'l_cmd_dl)'), ('5157610', 'l_cmd_fe)'),
                              ('5157674', 'l_cmd_gf)'), ('5157710', 'l_cmd_fv)'))]
    assert (render.PLEASE_WAIT + '\n') * 2 + render.table(jobs) == text


def test_delimiter_form() -> None:
    fields = ['jobid', 'stat', 'exit_code', 'exit_reason', 'submit_time', 'start_time',
              'finish_time', 'cpu_used', 'run_time', 'slots', 'mem', 'max_mem', 'memlimit',
              'swap', 'swaplimit']
    job: Job = {'jobid': '261871', 'stat': 'DONE', 'submit_time': 'Mar  3 16:46',
                'start_time': 'Mar  3 16:46', 'finish_time': 'Mar  3 16:46',
                'cpu_used': '0.0 second(s)', 'run_time': '0 second(s)', 'slots': '1'}
    assert render.custom([job], fields, '|') == sample('bjobs_-o_delimiter_DONE_lsf9.out')
    assert render.canonical('ID') == 'jobid'


def test_json_finished_jobs() -> None:
    text = sample('bjobs_-a_-json_-o_jobid_job_name_stat_finish_time_EXIT_DONE.out')
    rows = [('487641', 'EXIT', 'Jan  7 09:59 L'), ('487642', 'EXIT', 'Jan  7 09:59 L'),
            ('488155', 'EXIT', 'Jan  7 09:59 L'), ('491861', 'DONE', 'Jan  8 14:17 L'),
            ('491864', 'DONE', 'Jan  8 14:20 L')]
    jobs: List[Job] = [{'jobid': j, 'job_name': 'RoddyTest_testScript', 'stat': s,
                        'finish_time': f} for j, s, f in rows]
    jobs.append({'jobid': '491867', 'job_name': 'RoddyTest_testScriptMultiInMixedParameters',
                 'stat': 'DONE', 'finish_time': 'Jan  8 14:21 L'})
    assert render.json_jobs(jobs, ['jobid', 'job_name', 'stat', 'finish_time']) == text


def test_json_held_job() -> None:
    fields = ('job_name stat user user_group queue proj_name pids exit_code from_host exec_host '
              'submit_time start_time finish_time nthreads exec_home exec_cwd output_file '
              'error_file').split()
    job: Job = {'job_name': 'hold_job', 'stat': 'PSUSP', 'user': 'shahzebsiddiqui',
                'user_group': 'GEN014ECPCI', 'queue': 'batch', 'proj_name': 'GEN014ECPCI',
                'from_host': 'login1', 'exec_host': [], 'submit_time': 'May 28 12:45',
                'output_file': 'hold_job.out', 'error_file': 'hold_job.err'}
    assert render.json_jobs([job], fields) == sample('bjobs_-o_fields_-json_PSUSP_summit.out')


def test_json_full_fields() -> None:
    fields = ('jobid job_name stat user queue job_description proj_name job_group job_priority '
              'pids exit_code from_host exec_host submit_time start_time finish_time cpu_used '
              'run_time user_group swap max_mem runtimelimit sub_cwd pend_reason exec_cwd '
              'output_file input_file effective_resreq exec_home slots error_file command '
              'dependency').split()
    job: Job = {
        'jobid': '22005', 'job_name': 'ls -l', 'stat': 'DONE', 'user': 'otptest',
        'queue': 'short-dmg', 'proj_name': 'default',
        'pids': '46782,46796,46798,46915,47458,47643', 'from_host': 'tbi-cn013',
        'exec_host': ['tbi-cn019', 'tbi-cn019'], 'submit_time': 'Dec 28 19:56',
        'start_time': 'Dec 28 19:56', 'finish_time': 'Dec 28 19:56 L', 'cpu_used': '00:00:01',
        'run_time': '00:00:01', 'max_mem': '5.2 Gbytes', 'runtimelimit': '00:10:00',
        'sub_cwd': '$HOME', 'exec_cwd': '/home/otptest',
        'effective_resreq': 'select[type == local] order[r15s:pg] ',
        'exec_home': '/home/otptest', 'slots': '1', 'command': 'ls -l',
        'dependency': 'done(22004)'}
    assert render.json_jobs([job], fields) == sample('bjobs_-json_DONE_full_fields.out')


def test_long_format() -> None:
    head = ('Job <132286>, User <wwolski>, Project <default>, Status <EXIT>, Queue <pub.1h>, '
            'Job Priority <50>, Command <./x.sh>, Share group charged '
            '</lsf_biol_all/lsf_biol_other/wwolski>')
    events = [
        ('Tue Jul 24 10:26:42', 'Submitted from host <brutus3>, CWD <$HOME/.>, Output File '
         '<lsf.o%J>, Requested Resources <select[mem<70000] order[-ut] rusage[mem=1024,xs=1]>,'
         ' Specified Hosts <thin+9>, <single+8>, <smp16+6>, <smp24+5>, <smp48+4>, '
         '<parallel+1>;'),
        ('Tue Jul 24 10:26:47', 'Started on <a3010>, Execution Home '
         '</cluster/home/biol/wwolski>, Execution CWD </cluster/home/biol/wwolski/.>;'),
        ('Tue Jul 24 10:26:53', 'Exited with exit code 42. The CPU time used is 0.0 seconds.'),
        ('Tue Jul 24 10:26:53', 'Completed <exit>.'),
    ]
    # the site's own load indices (ETH's scratch, xs...) follow LSF's standard ones
    site = ('\n          scratch      xs       s       m       l      xl      sp\n'
            ' loadSched20000.0      -       -       -       -       -       -\n'
            ' loadStop      -       -       -       -       -       -       -\n')
    assert render.long_format(head, events, render.LOAD_BLOCK + site) == \
        sample('bjobs_-l_EXIT_code42_lsf7.out')


def test_messages() -> None:
    assert sample('bjobs_unknown_id.out') == ''
    assert render.not_found('943186') == sample('bjobs_unknown_id.err')
    assert render.NO_UNFINISHED + '\n' == sample('bjobs_no_unfinished_job_DOC.err')
    assert render.bkill_finished('8056') == sample('bkill_finished.err')
    assert render.bkill_accepted('349441') == sample('bkill_running_ert.out')
    assert render.bkill_accepted('473713') == sample('bkill_running_lsf7.out')


# -- behaviour of the simulated commands (needs Slurm) ------------------------------------------

def _bsub(*args: str, script: str = 'true\n') -> subprocess.CompletedProcess[str]:
    return subprocess.run(['bsub'] + list(args), input=script, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize('args,name', [
    (['-n', 'x'], 'bsub_error_bad_n.err'),
    (['-q', 'rhel7'], 'bsub_error_no_such_queue.err'),
    (['-R', 'rusage[mem=512MB:swp=1GB]'], 'bsub_error_rusage_section.err'),
    (['-R', 'rusage=[mem=20MB]', '-J', 'dummy'], 'bsub_error_select_section_REWRAPPED.err'),
])
def test_sim_bsub_errors(lsf_sim: Path, args: List[str], name: str) -> None:
    p = _bsub(*args)
    assert (p.returncode, p.stdout, p.stderr) == (255, '', sample(name))


def test_sim_bsub_and_bjobs_of_a_job(lsf_sim: Path) -> None:
    p = _bsub('-q', 'debug', '-J', 'TM-T', '-H')
    assert p.returncode == 0, p.stderr
    job_id = p.stdout.split('<')[1].split('>')[0]
    assert p.stdout == render.bsub_submitted(job_id, 'debug', False)
    t = run('bjobs', job_id)
    lines = t.stdout.splitlines()
    assert t.returncode == 0 and lines[0] == sample('bjobs_PEND_lsf7.out').splitlines()[0]
    assert lines[1].split()[2] == 'PSUSP'  # held at submission
    d = _bsub()
    assert d.stdout.startswith('Job <') and 'default queue <' in d.stdout
    k = run('bkill', job_id)
    assert (k.returncode, k.stdout) == (0, render.bkill_accepted(job_id))
    k2 = run('bkill', job_id)
    assert (k2.returncode, k2.stdout, k2.stderr) == (255, '', render.bkill_finished(job_id))


def test_sim_unknown_ids(lsf_sim: Path) -> None:
    p = run('bjobs', '943186')
    assert (p.returncode, p.stdout, p.stderr) == (0, '', sample('bjobs_unknown_id.err'))
    p = run('bjobs', '-u', 'nobody-here')
    assert (p.returncode, p.stdout, p.stderr) == (0, '', sample('bjobs_no_unfinished_job_DOC.err'))
    k = run('bkill', '943186')
    assert (k.returncode, k.stderr) == (255, render.bkill_unknown('943186'))


def test_sim_mixed_known_and_unknown_ids(lsf_sim: Path) -> None:
    p = _bsub('-H')
    job_id = p.stdout.split('<')[1].split('>')[0]
    q = run('bjobs', '-o', 'jobid stat', '-json', job_id, '943186')
    # FACTS L5: mixed found / not found gives 255 (LSB_BJOBS_CONSISTENT_EXIT_CODE=N)
    assert q.returncode == 255 and q.stderr == sample('bjobs_unknown_id.err')
    assert '"JOBID":"%s",\n      "STAT":"PSUSP"' % job_id in q.stdout
    run('bkill', job_id)
