"""The submit script's shell words: every hostile string survives a real shell byte-exact, and
the script stays printable ASCII whose lines never start with a user's text."""

import re
import subprocess

import pytest
from psij import InvalidJobException
from psij.conformance.hostile_corpus import CORPUS, chunks
from psij.executors.batch.script_writer import env_assignment, quote, quote_all, quote_code

# the script's shells: the first line of every submit script, and plain POSIX sh
SHELLS = [s for s in ('/bin/bash', '/bin/sh', '/bin/dash') if
          subprocess.run(['test', '-x', s]).returncode == 0]
PRINT_ARGS = r'for a do printf "%s\0" "$a"; done'


def _run(shell: str, script: str) -> bytes:
    # on standard input: one argument holds at most 128 KiB
    return subprocess.run([shell, '-s'], input=script.encode('ascii', 'surrogateescape'),
                          capture_output=True, check=True).stdout


@pytest.mark.parametrize('shell', SHELLS)
def test_every_corpus_string_is_one_exact_word(shell: str) -> None:
    for group in chunks(CORPUS, 200_000, 400):
        script = 'set -- %s\n%s' % (quote_all(group), PRINT_ARGS)
        got = _run(shell, script).split(b'\0')[:-1]
        assert [g.decode('utf-8') for g in got] == group


def test_the_script_text_is_printable_ascii_and_no_line_starts_with_user_text() -> None:
    for s in CORPUS:
        q = quote(s)
        assert q.isascii() and '\r' not in q
        for line in q.split('\n')[1:]:
            assert line.startswith('"'), (s, line)


@pytest.mark.parametrize('shell', SHELLS)
def test_environment_values_keep_only_their_references(shell: str) -> None:
    values = [v for v in CORPUS if len(v) < 1000][:300]
    lines = ['export PSIJ_REF=ref']
    lines += [env_assignment('PSIJ_V%d' % i, v) for i, v in enumerate(values)]
    lines.append('for i in $(seq 0 %d); do eval "printf \'%%s\\0\' \\"\\$PSIJ_V$i\\""; done'
                 % (len(values) - 1))
    got = [g.decode('utf-8') for g in _run(shell, '\n'.join(lines)).split(b'\0')[:-1]]
    ref = re.compile(r'\$\{([A-Za-z_][A-Za-z0-9_]*)\}')
    home = _run(shell, 'printf %s "$HOME"').decode()
    env = {'PSIJ_REF': 'ref', 'HOME': home}
    expected = [ref.sub(lambda m: env.get(m.group(1), ''), v) for v in values]
    assert got == expected


def test_bytes_from_surrogateescape_pass_and_lone_surrogates_are_refused() -> None:
    word = b'\xff\xfe raw'.decode('utf-8', 'surrogateescape')
    assert _run('/bin/sh', 'printf %s ' + quote(word)) == b'\xff\xfe raw'
    with pytest.raises(InvalidJobException):
        quote('a\ud800b')


def test_our_own_code_stays_readable_and_never_holds_a_directive_line() -> None:
    from psij.launchers.launch_wrapper import launch_script_text
    text = launch_script_text()
    assert quote_code(text) == "'%s'" % text.replace("'", "'\"'\"'")
    for bad in ('x\n#SBATCH -p q', '#!x', 'caf\u00e9', 'a\rb'):
        with pytest.raises(ValueError):
            quote_code(bad)
