"""
Files of the client in a remote job's staging: ``client:`` URLs.

A stage-in source or a stage-out target may name a file or directory of *this* machine (the
client): ``client:///home/me/input.dat`` (absolute) or ``client:input.dat`` (relative to the
current directory at submit). Everything else in staging names the far end's files, as on the
cluster.

- Stage-in: at `submit`, each ``client:`` source is copied over the connection into a private
  stage area of the far end (``~/.psij/remote/stage/``), and the far end's executor stages it
  in from there (its mode, ``COPY`` or ``MOVE``, applies there; ``STAGE_IN`` is reported as
  the far end stages). A missing or unreadable source is an `InvalidJobException` naming the
  entry, before anything is sent.
- Stage-out: the far end's executor stages each ``client:`` entry out into the stage area,
  with the entry's flags (``ON_SUCCESS``, ``IF_PRESENT``, ...) deciding there as for any
  target; once the job has ended there, the client copies what was staged to the entries'
  targets, while the job shows ``STAGE_OUT``, then removes the stage area and reports
  ``CLEANUP`` and the final state. A copy that fails makes the job ``FAILED`` with the cause.
- ``LINK`` cannot cross hosts: an entry with a ``client:`` URL and mode ``LINK`` is refused.
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from psij.exceptions import InvalidJobException

from psij_remote import protocol as p
from psij_remote.connection import Connection

SCHEME = 'client'
"""The URL scheme naming the client's files."""


def client_path(url: str) -> Optional[Path]:
    """The client path a ``client:`` URL names (absolute), or `None` for another URL."""
    if not url.startswith(SCHEME + ':'):
        return None
    rest = url[len(SCHEME) + 1:]
    if rest.startswith('//'):
        rest = rest[2:]
        if not rest.startswith('/'):
            raise InvalidJobException('%s: a client: URL names a path of this machine, '
                                      'client:///absolute/path or client:relative/path; it '
                                      'has no host' % url)
    if not rest:
        raise InvalidJobException('%s names no path' % url)
    return Path(rest).absolute()


class Plan:
    """The client files of one job: its stage area there, and what to copy back."""

    def __init__(self, area: str) -> None:
        self.area = area
        self.downloads: List[Tuple[str, Path, str]] = []
        """(path there, client target, the entry's description) for each stage-out."""
        self.held: List[Any] = []
        """Statuses held back until the downloads are done."""


def prepare(conn: Connection, spec_d: Dict[str, Any]) -> Optional[Plan]:
    """
    Uploads the ``client:`` stage-in sources of `spec_d` (a spec's JSON form, changed in
    place to name their copies there) and points its ``client:`` stage-out targets into the
    job's stage area; `None` if the spec names no client file.

    :raises InvalidJobException: for a missing source, a ``LINK`` entry, or a bad URL.
    """
    ins = [(i, e, client_path(str(e.get('source', ''))))
           for i, e in enumerate(spec_d.get('stage_in') or [])]
    outs = [(i, e, client_path(str(e.get('target', ''))))
            for i, e in enumerate(spec_d.get('stage_out') or [])]
    ins = [x for x in ins if x[2] is not None]
    outs = [x for x in outs if x[2] is not None]
    if not ins and not outs:
        return None
    for kind, items in (('stage_in', ins), ('stage_out', outs)):
        for _, e, _ in items:
            if e.get('mode') == 'LINK':
                raise InvalidJobException('JobSpec.%s[%s]: a client: URL cannot be linked from '
                                          'another host; use COPY or MOVE' % (kind, e))
    for _, e, path in ins:
        assert path is not None
        if not os.access(path, os.R_OK):
            raise InvalidJobException('JobSpec.stage_in[%s].source: %s cannot be read here'
                                      % (e['source'], path))
    area = str(conn.request(p.StageArea()).get('path'))
    plan = Plan(area)
    try:
        for i, e, path in ins:
            assert path is not None
            there = '%s/in-%d' % (area, i)
            _upload(conn, path, there)
            e['source'] = 'file://' + there
        for i, e, path in outs:
            assert path is not None
            there = '%s/out-%d' % (area, i)
            plan.downloads.append((there, path, 'JobSpec.stage_out[%s]' % e['target']))
            e['target'] = 'file://' + there
    except OSError as ex:
        remove(conn, plan)
        raise InvalidJobException('a client: stage-in source could not be read: %s' % ex) \
            from None
    except BaseException:
        remove(conn, plan)
        raise
    return plan


def _upload(conn: Connection, path: Path, there: str) -> None:
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        conn.request(p.StageMkdir(path=there))
        for name in sorted(os.listdir(path)):
            _upload(conn, path / name, '%s/%s' % (there, name))
        return
    with open(path, 'rb') as f:
        offset = 0
        while True:
            data = f.read(p.STAGE_CHUNK)
            last = len(data) < p.STAGE_CHUNK
            conn.request(p.StagePut(path=there, offset=offset,
                                    data=base64.b64encode(data).decode('ascii'), last=last,
                                    mode=stat.S_IMODE(st.st_mode)))
            offset += len(data)
            if last:
                return


def download(conn: Connection, plan: Plan) -> Optional[str]:
    """Copies what the far end staged out to the client targets; returns what failed, or
    `None`."""
    problems = []
    for there, target, what in plan.downloads:
        try:
            entries = conn.request(p.StageList(path=there)).get('entries') or []
            for ent in entries:
                rel = str(ent['path'])[len(there):].lstrip('/')
                dest = target / rel if rel else target
                if ent['kind'] == 'dir':
                    dest.mkdir(parents=True, exist_ok=True)
                elif ent['kind'] == 'file':
                    _fetch(conn, str(ent['path']), dest)
        except Exception as ex:
            problems.append('%s: %s' % (what, ex))
    return '; '.join(problems) or None


def _fetch(conn: Connection, there: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name('.%s.psij-part' % dest.name)
    offset, mode = 0, 0o600
    with open(tmp, 'wb') as f:
        while True:
            r = conn.request(p.StageGet(path=there, offset=offset))
            data = base64.b64decode(str(r.get('data', '')))
            f.write(data)
            offset += len(data)
            mode = int(r.get('mode', mode))
            if r.get('eof') or not data:
                break
    os.chmod(tmp, mode)
    os.replace(tmp, dest)


def remove(conn: Connection, plan: Plan) -> None:
    """Removes the job's stage area there (failures only logged by the far end)."""
    try:
        conn.request(p.StageRemove(path=plan.area), timeout=30)
    except Exception:
        pass
