import pytest
from psij import InvalidJobException, ResourceSpec, ResourceSpecV1


@pytest.mark.parametrize('kwargs, expected', [
    ({}, (1, 1, 1)),
    ({'process_count': 4}, (1, 4, 4)),
    ({'node_count': 3}, (3, 3, 1)),
    ({'processes_per_node': 5}, (1, 5, 5)),
    ({'node_count': 2, 'processes_per_node': 3}, (2, 6, 3)),
    ({'process_count': 8, 'processes_per_node': 2}, (4, 8, 2)),
    ({'process_count': 8, 'node_count': 4}, (4, 8, 2)),
    ({'process_count': 6, 'node_count': 2, 'processes_per_node': 3}, (2, 6, 3)),
])
def test_inference(kwargs, expected):
    r = ResourceSpecV1(**kwargs)
    assert (r.computed_node_count, r.computed_process_count,
            r.computed_processes_per_node) == expected
    for k, v in kwargs.items():
        assert getattr(r, k) == v  # the fields keep what the user gave
    for k in {'node_count', 'process_count', 'processes_per_node'} - set(kwargs):
        assert getattr(r, k) is None


@pytest.mark.parametrize('kwargs, words', [
    ({'process_count': 5, 'node_count': 2, 'processes_per_node': 3},
     ['process_count=5', 'node_count=2', 'processes_per_node=3']),
    ({'process_count': 7, 'processes_per_node': 2}, ['process_count=7', 'processes_per_node']),
    ({'process_count': 7, 'node_count': 2}, ['process_count=7', 'node_count']),
    ({'node_count': 0}, ['node_count=0', 'at least 1']),
    ({'process_count': -3}, ['process_count=-3']),
    ({'memory': 0}, ['memory=0']),
])
def test_bad_values_name_the_field(kwargs, words):
    with pytest.raises(InvalidJobException) as ei:
        ResourceSpecV1(**kwargs)
    for w in words:
        assert w in str(ei.value)


@pytest.mark.parametrize('kwargs', [{'node_count': '2'}, {'process_count': 2.0},
                                    {'exclusive_node_use': 'yes'}, {'memory': True}])
def test_wrong_types_are_type_errors(kwargs):
    with pytest.raises(TypeError) as ei:
        ResourceSpecV1(**kwargs)
    assert isinstance(ei.value, InvalidJobException)
    assert next(iter(kwargs)) in str(ei.value)


def test_memory_kb_and_version():
    assert ResourceSpecV1(memory=4096 * 1024 + 5).memory_kb == 4096
    assert ResourceSpecV1().memory_kb is None
    assert ResourceSpecV1().version == 1
    assert isinstance(ResourceSpec.get_instance(1), ResourceSpecV1)
    with pytest.raises(ValueError):
        ResourceSpec.get_instance(2)


def test_equality_covers_every_field():
    base = dict(node_count=2, processes_per_node=2, cpu_cores_per_process=1,
                gpu_cores_per_process=1, exclusive_node_use=True, memory=100)
    assert ResourceSpecV1(**base) == ResourceSpecV1(**base)
    for k, v in [('memory', 200), ('gpu_cores_per_process', 2), ('exclusive_node_use', False),
                 ('cpu_cores_per_process', 3)]:
        assert ResourceSpecV1(**{**base, k: v}) != ResourceSpecV1(**base)


def test_changes_after_construction_are_seen():
    r = ResourceSpecV1(node_count=2)
    r.processes_per_node = 4
    assert r.computed_process_count == 8
