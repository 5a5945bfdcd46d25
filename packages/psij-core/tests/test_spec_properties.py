"""
Property-based tests (hypothesis) of JobSpec, ResourceSpecV1, JobAttributes, the JSON
serializer and ``psij validate``:

- any construction either succeeds or raises the documented `InvalidJobException` (its
  subclasses `JobSpecValueError` / `JobSpecTypeError`);
- every valid specification survives a JSON round trip unchanged;
- ``psij validate`` answers every malformed file with one clear line and exit code 1, never a
  traceback (hypothesis-generated JSON and mutations of valid files).
"""

import io
import json
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psij import (
    InvalidJobException,
    JobAttributes,
    JobSpec,
    ResourceSpecV1,
    StageIn,
    StageOut,
    StageOutFlags,
    StagingMode,
)
from psij.cli.main import main as psij_main
from psij.conformance.hostile_corpus import CORPUS
from psij.serialize import JSONSerializer

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

# -- strategies -----------------------------------------------------------------------------------

hostile = st.sampled_from([s for s in CORPUS if len(s) < 300])
text = st.one_of(st.text(max_size=40), hostile)
nul_free = text.filter(lambda s: '\0' not in s)
anything = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                     st.floats(allow_nan=True), text, st.binary(max_size=8),
                     st.lists(text, max_size=3), st.dictionaries(text, text, max_size=3),
                     st.just(Path('/tmp/x')), st.just(timedelta(seconds=-5)))
json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                                     st.floats(allow_nan=False, allow_infinity=False), text),
                           lambda children: st.one_of(st.lists(children, max_size=3),
                                                      st.dictionaries(text, children,
                                                                      max_size=3)),
                           max_leaves=8)

env_names = st.from_regex(r'[A-Za-z_][A-Za-z0-9_]{0,10}', fullmatch=True)
counts = st.one_of(st.none(), st.integers(1, 64))


@st.composite
def resources(draw: Any) -> ResourceSpecV1:
    n = draw(counts)
    ppn = draw(counts)
    p = n * ppn if n is not None and ppn is not None and draw(st.booleans()) else None
    return ResourceSpecV1(node_count=n, process_count=p, processes_per_node=ppn,
                          cpu_cores_per_process=draw(counts),
                          gpu_cores_per_process=draw(st.one_of(st.none(), st.integers(0, 8))),
                          exclusive_node_use=draw(st.booleans()),
                          memory=draw(st.one_of(st.none(), st.integers(1, 2**50))))


@st.composite
def attributes(draw: Any) -> JobAttributes:
    custom = draw(st.one_of(st.none(), st.dictionaries(
        st.from_regex(r'[a-z]{1,8}\.[A-Za-z][A-Za-z0-9_-]{0,8}', fullmatch=True),
        json_values, max_size=3)))
    return JobAttributes(
        duration=timedelta(microseconds=draw(st.integers(1, 10**12))),
        queue_name=draw(st.one_of(st.none(), text)), account=draw(st.one_of(st.none(), text)),
        reservation_id=draw(st.one_of(st.none(), text)), custom_attributes=custom)


paths = st.one_of(st.none(), nul_free.filter(lambda s: s not in ('', '.')).map(
    lambda s: '/tmp/' + s.replace('/', '_')))


@st.composite
def specs(draw: Any) -> JobSpec:
    flags = st.sampled_from(list(StageOutFlags))
    modes = st.sampled_from(list(StagingMode))
    name = st.from_regex(r'[a-z][a-z0-9 ._-]{0,12}', fullmatch=True)
    absolute = name.map(lambda n: '/data/' + n)
    return JobSpec(
        executable=draw(nul_free.filter(bool)),
        arguments=draw(st.one_of(st.none(), st.lists(nul_free, max_size=6))),
        directory=draw(paths), name=draw(st.one_of(st.none(), nul_free)),
        inherit_environment=draw(st.booleans()),
        environment=draw(st.one_of(st.none(), st.dictionaries(env_names, nul_free,
                                                              max_size=4))),
        stdin_path=draw(paths), stdout_path=draw(paths), stderr_path=draw(paths),
        resources=draw(st.one_of(st.none(), resources())),
        attributes=draw(st.one_of(st.none(), attributes())),
        pre_launch=draw(paths), post_launch=draw(paths),
        launcher=draw(st.one_of(st.none(), st.sampled_from(['single', 'mpirun', 'srun']))),
        stage_in=draw(st.one_of(st.none(), st.sets(st.builds(StageIn, absolute, name, modes),
                                                   max_size=2))),
        stage_out=draw(st.one_of(st.none(), st.sets(st.builds(StageOut, name, absolute, flags,
                                                              modes), max_size=2))),
        cleanup=draw(st.one_of(st.none(), st.sets(name.map(Path), max_size=2))),
        cleanup_flags=draw(flags))


# -- construction ---------------------------------------------------------------------------------

SPEC_FIELDS = ['executable', 'arguments', 'directory', 'name', 'inherit_environment',
               'environment', 'stdin_path', 'stdout_path', 'stderr_path', 'resources',
               'attributes', 'pre_launch', 'post_launch', 'launcher', 'stage_in', 'stage_out',
               'cleanup', 'cleanup_flags']
RESOURCE_FIELDS = ['node_count', 'process_count', 'processes_per_node', 'cpu_cores_per_process',
                   'gpu_cores_per_process', 'exclusive_node_use', 'memory']
ATTRIBUTE_FIELDS = ['duration', 'queue_name', 'account', 'reservation_id', 'custom_attributes',
                    'project_name']


def _construct(cls: type, kwargs: Dict[str, Any]) -> None:
    try:
        obj = cls(**kwargs)
    except InvalidJobException as ex:
        assert ex.message, 'an InvalidJobException without a message'
        return
    if isinstance(obj, ResourceSpecV1):
        try:
            obj._infer()
        except InvalidJobException:
            pass


@SETTINGS
@given(st.dictionaries(st.sampled_from(SPEC_FIELDS), anything, max_size=5))
def test_any_jobspec_construction_succeeds_or_raises_invalid_job(kwargs: Dict[str, Any]) -> None:
    _construct(JobSpec, kwargs)


@SETTINGS
@given(st.dictionaries(st.sampled_from(RESOURCE_FIELDS), anything, max_size=4))
def test_any_resource_spec_construction_succeeds_or_raises_invalid_job(
        kwargs: Dict[str, Any]) -> None:
    _construct(ResourceSpecV1, kwargs)


@SETTINGS
@given(st.dictionaries(st.sampled_from(ATTRIBUTE_FIELDS), anything, max_size=4))
def test_any_attributes_construction_succeeds_or_raises_invalid_job(
        kwargs: Dict[str, Any]) -> None:
    _construct(JobAttributes, kwargs)


@SETTINGS
@given(st.sampled_from(SPEC_FIELDS), anything)
def test_any_assignment_to_a_spec_succeeds_or_raises_invalid_job(field: str, value: Any) -> None:
    spec = JobSpec('/bin/true')
    try:
        setattr(spec, field, value)
    except InvalidJobException as ex:
        assert ex.message


# -- JSON round trip ------------------------------------------------------------------------------

@SETTINGS
@given(specs())
def test_every_valid_spec_survives_a_json_round_trip(spec: JobSpec) -> None:
    for ser in (JSONSerializer(), JSONSerializer(indent=None)):
        text_ = ser.dumps(spec)
        back = ser.loads(text_)
        assert back == spec, text_
        assert ser.dumps(back) == text_


# -- psij validate --------------------------------------------------------------------------------

def _validate(tmp: Path, content: bytes) -> Tuple[int, str, str]:
    f = tmp / 'spec.json'
    f.write_bytes(content)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = psij_main(['validate', str(f)])
    return code, out.getvalue(), err.getvalue()


def _check_answer(code: int, out: str, err: str) -> None:
    assert code in (0, 1), (code, out, err)
    assert 'Traceback' not in out + err
    if code == 1:
        assert out == '', out
        assert err.endswith('\n') and err.count('\n') == 1, 'not one line: %r' % err
        assert ': invalid: ' in err and len(err.split(': invalid: ', 1)[1].strip()) > 0
    else:
        assert out.endswith(': valid\n') and err == ''


VALID = JSONSerializer().dumps(JobSpec('/bin/echo', ['a', 'b'], environment={'A': '1'},
                                       resources=ResourceSpecV1(node_count=2,
                                                                processes_per_node=2),
                                       attributes=JobAttributes(queue_name='q'))).encode()


@SETTINGS
@given(json_values)
def test_validate_answers_any_json_document_in_one_line(tmp_path_factory: Any,
                                                        doc: Any) -> None:
    tmp = tmp_path_factory.mktemp('v')
    _check_answer(*_validate(tmp, json.dumps(doc).encode()))


@SETTINGS
@given(st.dictionaries(st.sampled_from(SPEC_FIELDS + ['bogus']), json_values, min_size=1,
                       max_size=5))
def test_validate_answers_any_object_with_spec_keys_in_one_line(tmp_path_factory: Any,
                                                                doc: Dict[str, Any]) -> None:
    tmp = tmp_path_factory.mktemp('v')
    _check_answer(*_validate(tmp, json.dumps(doc).encode()))


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(VALID)), st.integers(0, 3), st.binary(max_size=4)),
                min_size=1, max_size=4))
def test_validate_answers_mutated_valid_files_in_one_line(tmp_path_factory: Any,
                                                          edits: Any) -> None:
    data = bytearray(VALID)
    for pos, cut, insert in edits:
        pos = min(pos, len(data))
        data[pos:pos + cut] = insert
    tmp = tmp_path_factory.mktemp('v')
    _check_answer(*_validate(tmp, bytes(data)))


@pytest.mark.parametrize('content', [
    b'', b'\xff\xfe', b'[' * 100000, b'{"executable": "x", "arguments": [' + b'[' * 5000,
    b'{"resources": {"node_count": ' + b'9' * 5000 + b'}, "executable": "x"}',
    b'{"resources": {"node_count": 1e400}, "executable": "x"}',
    b'{"executable": "x", "attributes": {"duration": "99999999999999999:00:00"}}',
    b'{"executable": "x", "attributes": {"duration": 1e300}}',
    b'{"executable": "x", "attributes": {"duration": NaN}}',
    b'{"executable": "x\\u0000"}', b'{"executable": "\\ud800"}',
])
def test_validate_answers_pathological_files_in_one_line(tmp_path: Path,
                                                         content: bytes) -> None:
    _check_answer(*_validate(tmp_path, content))


def test_validate_in_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    f = tmp_path / 'bad.json'
    f.write_bytes(b'[' * 100000)
    res = subprocess.run([sys.executable, '-m', 'psij', 'validate', str(f)],
                         capture_output=True, text=True)
    assert res.returncode == 1 and 'Traceback' not in res.stderr, res.stderr
    assert res.stderr.count('\n') == 1, res.stderr
