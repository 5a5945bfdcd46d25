"""psij._batch_sender: what is queued while a batch is being sent goes out together, in order."""

import threading
from typing import List

from psij._batch_sender import BatchSender


def test_items_queued_during_a_send_go_out_in_one_batch_in_order() -> None:
    batches: List[List[int]] = []
    first_sent = threading.Event()
    release = threading.Event()

    def send(batch: List[int]) -> None:
        batches.append(batch)
        if len(batches) == 1:
            first_sent.set()
            assert release.wait(30)

    s = BatchSender('test-sender', send)
    assert not s.started
    s.put(0)
    assert s.started and first_sent.wait(30)
    for i in range(1, 101):
        s.put(i)  # the thread is busy with the first batch: these wait, together
    assert not s.flush(0.05)  # not sent yet
    release.set()
    assert s.flush(30)
    assert batches == [[0], list(range(1, 101))]


def test_a_failing_send_loses_only_its_batch() -> None:
    sent: List[List[str]] = []

    def send(batch: List[str]) -> None:
        if batch == ['bad']:
            raise RuntimeError('refused')
        sent.append(batch)

    s = BatchSender('test-sender-2', send)
    s.put('bad')
    assert s.flush(30)
    s.put('good')
    assert s.flush(30)
    assert sent == [['good']]
