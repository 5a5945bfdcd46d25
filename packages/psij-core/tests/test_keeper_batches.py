"""The keeper serves the requests that wait in batches: one write of start records and one
datagram of replies per batch, a job's end only after its reply, and no job's directory held
between batches."""

from __future__ import annotations

import os
import pathlib
import select
import socket
import threading
import time
from typing import Iterator, List

import pytest
from psij import Job, JobExecutor, JobSpec
from psij.executors.local import LocalJobExecutorConfig
from psij.executors.local._keeper import Keeper
from psij.executors.local._keeper_client import KeeperClient
from psij.executors.local._keeper_messages import (
    JobInfo,
    Start,
    Started,
    decode_ends,
    decode_replies,
    encode,
)


class InProcessKeeper:
    """A keeper in a thread of this process, and the submitter's ends of its two sockets."""

    def __init__(self) -> None:
        self.requests, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.ends, their_ends = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.thread = threading.Thread(target=Keeper(theirs, their_ends).run, daemon=True)

    def start(self) -> None:
        """Lets the keeper serve (what was sent before waits for it)."""
        self.thread.start()


@pytest.fixture
def keeper(monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessKeeper]:
    # the keeper enters directories: the test's own is restored afterwards
    monkeypatch.chdir(os.getcwd())
    k = InProcessKeeper()
    yield k
    if not k.thread.is_alive():
        k.start()
    k.requests.close()  # the submitter is gone: the keeper ends once its jobs have
    k.thread.join(60)
    assert not k.thread.is_alive()
    k.ends.close()


def _start(key: int, state_dir: pathlib.Path, argv: List[str]) -> bytes:
    return encode(Start(key, argv, argv[0], '/', {'PATH': '/bin:/usr/bin'}, [],
                        JobInfo(str(state_dir), '', False, False, '')))


def _recv(sock: socket.socket, timeout: float = 60) -> bytes:
    r, _, _ = select.select([sock], [], [], timeout)
    assert r, 'nothing came within %s s' % timeout
    return sock.recv(1 << 16)


def test_waiting_requests_get_their_replies_in_one_datagram(keeper: InProcessKeeper,
                                                            tmp_path: pathlib.Path) -> None:
    requests, ends = keeper.requests, keeper.ends
    for key in range(1, 11):
        requests.send(_start(key, tmp_path, ['/bin/true']))
    keeper.start()
    replies = decode_replies(_recv(requests))
    assert [r.key for r in replies] == list(range(1, 11))
    assert all(isinstance(r, Started) for r in replies)
    # the ten start records were written (in one go), before the replies were sent
    journal = next(tmp_path.glob('*.journal')).read_text()
    for r in replies:
        assert 'S %s\n' % r.native_id in journal
    got: List[int] = []
    while len(got) < 10:
        got += [e.key for e in decode_ends(_recv(ends))]
    assert sorted(got) == list(range(1, 11))


def test_a_job_end_never_comes_before_its_reply(keeper: InProcessKeeper,
                                               tmp_path: pathlib.Path) -> None:
    requests, ends = keeper.requests, keeper.ends
    keeper.start()
    for key in range(1, 21):
        requests.send(_start(key, tmp_path, ['/bin/true']))
        # once its end can be read, its reply is there to read as well
        end = decode_ends(_recv(ends))
        assert [e.key for e in end] == [key]
        requests.setblocking(False)
        try:
            replies = decode_replies(requests.recv(1 << 16))
        finally:
            requests.setblocking(True)
        assert [r.key for r in replies] == [key]


def test_the_keeper_holds_no_job_directory_between_batches(tmp_path: pathlib.Path) -> None:
    ex = JobExecutor.get_instance(
        'local', config=LocalJobExecutorConfig(state_directory=tmp_path / 'state'))
    work = tmp_path / 'work'
    work.mkdir()
    job = Job(JobSpec('/bin/sleep', ['30'], directory=work))
    ex.submit(job)
    assert job.native_id  # the keeper answered: its batch has ended
    pid = KeeperClient.get().pid
    deadline = time.monotonic() + 30
    while os.readlink('/proc/%d/cwd' % pid) != '/' and time.monotonic() < deadline:
        time.sleep(0.01)
    assert os.readlink('/proc/%d/cwd' % pid) == '/'
    # the job itself runs where it was asked to
    assert os.readlink('/proc/%d/cwd' % int(job.native_id.split('-')[0])) == str(work)
    job.cancel()
    job.wait(timeout=60)
