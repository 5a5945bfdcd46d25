import io
import random
from datetime import timedelta

import pytest
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
from psij.serialize import JSONSerializer

WEIRD = ['', ' ', 'a b', '"q"', "'s'", '$HOME', '`id`', '$(id)', 'line\nbreak', 'é✓', 'x' * 5000,
         '\\', '--flag', '*']


def full_spec(rng: random.Random) -> JobSpec:
    return JobSpec(
        executable=rng.choice(['/bin/echo', 'rel/exe', 'name with space']),
        arguments=rng.sample(WEIRD, k=rng.randint(0, len(WEIRD))),
        directory=rng.choice([None, '/tmp/d', 'rel dir']),
        name=rng.choice([None, 'job name', 'é']),
        inherit_environment=rng.choice([True, False]),
        environment={'V%d' % i: rng.choice(WEIRD + [7]) for i in range(rng.randint(0, 5))},
        stdin_path=rng.choice([None, '/in']), stdout_path='o u t', stderr_path=None,
        resources=rng.choice([None, ResourceSpecV1(node_count=2, processes_per_node=3,
                                                   cpu_cores_per_process=2,
                                                   gpu_cores_per_process=1,
                                                   exclusive_node_use=True, memory=2 ** 33)]),
        attributes=JobAttributes(
            duration=timedelta(days=rng.randint(0, 3), seconds=rng.randint(1, 86399),
                               microseconds=rng.randint(0, 999999)),
            queue_name=rng.choice([None, 'debug']), account=rng.choice([None, 'acct']),
            reservation_id=rng.choice([None, 'r1']),
            custom_attributes=rng.choice([None, {'slurm.qos': 'high', 'n': 3, 'f': 1.5,
                                                 'b': True, 'l': [1, 'a', None],
                                                 'd': {'x': {'y': []}}}])),
        pre_launch=rng.choice([None, '/pre.sh']), post_launch=rng.choice([None, 'post.sh']),
        launcher=rng.choice([None, 'mpirun']),
        stage_in=rng.choice([None, {StageIn('/a', 'b'), StageIn('file:///c', 'd',
                                                               StagingMode.LINK)}]),
        stage_out=rng.choice([None, {StageOut('o', '/x', StageOutFlags.ON_SUCCESS
                                              | StageOutFlags.IF_PRESENT),
                                     StageOut('p', 'file:///y', StageOutFlags.ALWAYS
                                              | StageOutFlags.IF_PRESENT, StagingMode.MOVE),
                                     StageOut('q', '/z', StageOutFlags.NONE)}]),
        cleanup=rng.choice([None, {'o', '/abs'}]),
        cleanup_flags=rng.choice([StageOutFlags.ALWAYS, StageOutFlags.ON_ERROR]),
    )


@pytest.mark.parametrize('seed', range(40))
def test_round_trip_is_exact(seed):
    s = full_spec(random.Random(seed))
    ser = JSONSerializer()
    text = ser.dumps(s)
    back = ser.loads(text)
    assert back == s
    assert back.attributes.duration == s.attributes.duration
    assert ser.dumps(back) == text
    buf = io.StringIO()
    ser.dump(s, buf)
    buf.seek(0)
    assert ser.load(buf) == s


def test_minimal_document_and_durations():
    ser = JSONSerializer()
    assert ser.loads('{"executable": "/bin/true"}') == JobSpec(executable='/bin/true')
    for text, d in [('"1:00:00"', timedelta(hours=1)), ('90', timedelta(seconds=90)),
                    ('"2h"', timedelta(hours=2)), ('"1-2:03:04.5"',
                                                   timedelta(days=1, hours=2, minutes=3,
                                                             seconds=4, microseconds=500000))]:
        s = ser.loads('{"executable": "x", "attributes": {"duration": %s}}' % text)
        assert s.attributes.duration == d


@pytest.mark.parametrize('doc, words', [
    ('{"executable": "x",', ['Malformed JSON', 'line 1']),
    ('[1]', ['JSON object']),
    ('{"exe": "x"}', ['exe', 'unknown field']),
    ('{"attributes": {"walltime": 5}}', ['attributes.walltime', 'unknown field']),
    ('{"resources": {"nodes": 2}}', ['resources.nodes']),
    ('{"resources": {"node_count": "2"}}', ['node_count']),
    ('{"resources": {"process_count": 3, "node_count": 2}}', ['process_count=3']),
    ('{"arguments": "a b"}', ['arguments']),
    ('{"environment": {"A": [1]}}', ["environment['A']"]),
    ('{"attributes": {"duration": "soon"}}', ['attributes.duration', "'soon'"]),
    ('{"stage_in": [{"source": "/a"}]}', ['stage_in', 'target']),
    ('{"stage_out": [{"source": "a", "target": "/b", "bogus": 1}]}', ['stage_out[0].bogus']),
    ('{"cleanup_flags": ["SOMETIMES"]}', ['cleanup_flags', 'SOMETIMES']),
    ('{"cleanup": [[]]}', ['cleanup[0]', 'a string']),
    ('{"inherit_environment": "yes"}', ['inherit_environment']),
])
def test_bad_documents_name_the_field(doc, words):
    with pytest.raises(InvalidJobException) as ei:
        JSONSerializer().loads(doc)
    for w in words:
        assert w in str(ei.value)


def test_unserializable_custom_attribute_is_reported():
    s = JobSpec(executable='x', attributes=JobAttributes(custom_attributes={'k': object()}))
    with pytest.raises(InvalidJobException, match='custom_attributes.k'):
        JSONSerializer().dumps(s)
