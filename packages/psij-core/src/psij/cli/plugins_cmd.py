"""``psij plugins``: every executor and launcher, where it comes from, and what failed."""

from __future__ import annotations

import argparse
import json
from typing import Any, Dict, List

from psij import capabilities
from psij.job_executor import JobExecutor
from psij.job_launcher import Launcher
from psij.plugins import registry


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``plugins`` sub-command."""
    p = sub.add_parser('plugins', help='list executors and launchers and their plugins')
    p.add_argument('--json', action='store_true', help='print JSON')
    p.add_argument('--no-load', action='store_true',
                   help='do not import the classes to check that they load')
    p.add_argument('--remote', metavar='URL',
                   help="list another host's plugins instead (ssh://[user@]host[:port][/venv]; "
                   'needs psij-remote here and there)')
    p.set_defaults(func=run)


def _remote(url: str) -> Dict[str, Any]:
    """The plugins of the far end of `url` (through its ``local`` executor's connection)."""
    ex = JobExecutor.get_instance('local', url=url)
    remote_plugins = getattr(ex, 'remote_plugins', None)
    if remote_plugins is None:
        raise ValueError('%s names no host whose plugins can be listed' % url)
    data: Dict[str, Any] = remote_plugins()
    return data


def collect(load: bool = True) -> Dict[str, Any]:
    """Everything the registry knows, as plain data."""
    out: Dict[str, Any] = {'executors': [], 'launchers': [], 'transports': [], 'problems': [],
                           'disabled': []}
    bases = {'executor': JobExecutor, 'launcher': Launcher, 'transport': JobExecutor}
    for kind in registry.KINDS:
        rows: List[Dict[str, Any]] = []
        seen = set()
        for _name, entries in sorted(registry.entries(kind).items()):
            for e in entries:
                if id(e) in seen:
                    continue  # an alias of an entry already listed
                seen.add(id(e))
                error = None
                if e.conflict:
                    error = e.conflict
                elif load:
                    try:
                        registry.load_class(e, bases[kind])
                    except ValueError as ex:
                        error = str(ex)
                elif e.error is not None:
                    error = '%s: %s' % (type(e.error).__name__, e.error)
                unknown = sorted(set(e.desc.unsupported) - capabilities.ALL)
                if unknown and error is None:
                    # a misspelt capability would silently fail to skip the checks it means
                    error = 'unknown capabilities declared unsupported: %s (known: %s)' % (
                        ', '.join(unknown), ', '.join(sorted(capabilities.ALL)))
                rows.append({'name': e.desc.name, 'version': str(e.version),
                             'aliases': e.desc.aliases or [], 'class': e.desc.cls,
                             'distribution': e.source, 'error': error,
                             'unsupported': e.desc.unsupported})
        out[kind + 's'] = rows
    out['problems'] = [{'plugin': p.plugin, 'source': p.source,
                        'error': '%s: %s' % (type(p.error).__name__, p.error)}
                       for p in registry.problems()]
    out['disabled'] = [{'plugin': p, 'source': s} for p, s in registry.disabled()]
    return out


def run(args: argparse.Namespace) -> int:
    """Prints the plugin table; exits 1 if anything failed to load."""
    if args.remote:
        try:
            data = _remote(args.remote)
        except Exception as ex:
            print('psij plugins: %s' % ex)
            return 1
        for kind in ('executors', 'launchers'):
            for r in data.get(kind, []):
                r.setdefault('aliases', [])
                r.setdefault('distribution', r.get('source', ''))
                r.setdefault('error', None)
        data['problems'] = [{'plugin': p, 'source': '', 'error': ''}
                            for p in data.get('problems', [])]
        data.setdefault('transports', [])
        data.setdefault('disabled', [])
    else:
        data = collect(load=not args.no_load)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        for kind in ('executors', 'launchers', 'transports'):
            if kind == 'transports' and not data[kind]:
                continue  # none installed: the usual case, not worth a line
            print('%s:' % kind.capitalize())
            if not data[kind]:
                print('  (none)')
            for r in data[kind]:
                aliases = ' (aliases: %s)' % ', '.join(r['aliases']) if r['aliases'] else ''
                status = 'ok' if r['error'] is None else 'ERROR: %s' % r['error']
                print('  %-10s %-8s %-24s %s%s' % (r['name'], r['version'], r['distribution'],
                                                  status, aliases))
        if data['problems']:
            print('Plugins that failed:')
            for p in data['problems']:
                print('  %s (%s): %s' % (p['plugin'], p['source'], p['error']))
        if data['disabled']:
            print('Disabled by %s:' % registry.DISABLE_ENV)
            for p in data['disabled']:
                print('  %s (%s)' % (p['plugin'], p['source']))
    bad = data['problems'] or any(r['error'] for k in ('executors', 'launchers', 'transports')
                                  for r in data[k])
    return 1 if bad else 0
