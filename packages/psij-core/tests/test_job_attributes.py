import logging
from datetime import timedelta

import pytest
from psij import InvalidJobException, JobAttributes


@pytest.mark.parametrize('text, expected', [
    ('01:02:03', timedelta(hours=1, minutes=2, seconds=3)),
    ('100:00:00', timedelta(hours=100)),
    ('2:30', timedelta(hours=2, minutes=30)),
    ('45', timedelta(minutes=45)),
    ('3h', timedelta(hours=3)),
    ('90 s', timedelta(seconds=90)),
    ('15m', timedelta(minutes=15)),
    ('2d', timedelta(days=2)),
])
def test_parse_walltime(text, expected):
    assert JobAttributes.parse_walltime(text) == expected


@pytest.mark.parametrize('text', ['', 'soon', '1:2:3:4', '1:99', '5x', 'abc 5h', '-5', '1.5h'])
def test_parse_walltime_rejects(text):
    with pytest.raises(ValueError) as ei:
        JobAttributes.parse_walltime(text)
    assert isinstance(ei.value, InvalidJobException)
    assert repr(text) in str(ei.value) and 'hh:mm:ss' in str(ei.value)


def test_defaults():
    a = JobAttributes()
    assert a.duration == timedelta(minutes=10)
    assert (a.queue_name, a.account, a.reservation_id, a.custom_attributes) == (None,) * 4


def test_project_name_is_a_deprecated_alias_of_account(caplog):
    with caplog.at_level(logging.WARNING):
        a = JobAttributes(project_name='p1')
    assert a.account == 'p1' and a.project_name == 'p1'
    assert 'deprecated' in caplog.text
    a.account = 'p2'
    assert a.project_name == 'p2'


def test_custom_attributes():
    a = JobAttributes(custom_attributes={'slurm.qos': 'debug'})
    a.set_custom_attribute('pbs.l', 'walltime=1')
    assert a.get_custom_attribute('slurm.qos') == 'debug'
    assert a.get_custom_attribute('nope') is None
    assert a.custom_attributes == {'slurm.qos': 'debug', 'pbs.l': 'walltime=1'}
    with pytest.raises(TypeError, match='custom_attributes'):
        JobAttributes(custom_attributes={1: 'x'})


@pytest.mark.parametrize('kwargs, field', [
    ({'duration': 600}, 'duration'), ({'duration': timedelta(0)}, 'duration'),
    ({'queue_name': 5}, 'queue_name'), ({'account': ['a']}, 'account'),
])
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(InvalidJobException, match=field):
        JobAttributes(**kwargs)


def test_equality():
    assert JobAttributes(queue_name='q') == JobAttributes(queue_name='q')
    assert JobAttributes(queue_name='q') != JobAttributes(queue_name='r')
    assert JobAttributes(duration=timedelta(1)) != JobAttributes()
