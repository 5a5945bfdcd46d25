"""Job id forms, checked against what a real Flux 0.88 printed (samples/flux-real)."""

from __future__ import annotations

import pytest
from conftest import SAMPLES
from psij_flux.job_ids import parse_job_id, to_dothex, to_f58


def _id_forms() -> dict[str, str]:
    forms = {}
    for line in (SAMPLES / 'flux_job_id_all.out').read_text().splitlines():
        kind, _, value = line.partition(' ')
        forms[kind] = value
    return forms


def test_every_form_of_the_sample_id() -> None:
    forms = _id_forms()
    n = int(forms['dec'])
    assert n == 19176357888
    for kind in ('dec', 'hex', 'f58', 'f58plain', 'kvs', 'dothex'):
        assert parse_job_id(forms[kind]) == n, kind
    assert to_f58(n) == forms['f58']
    assert to_f58(n, ascii_only=True) == forms['f58plain']
    assert to_dothex(n) == forms['dothex']


def test_words_need_a_decoder() -> None:
    words = _id_forms()['words']
    with pytest.raises(ValueError):
        parse_job_id(words)
    assert parse_job_id(words, lambda s: 19176357888 if s == words else None) == 19176357888


def test_conversions_flux_printed() -> None:
    assert parse_job_id((SAMPLES / 'flux_job_id_to_f58.out').read_text()) == \
        int((SAMPLES / 'flux_job_id_to_dec.out').read_text())
    for line in (SAMPLES / 'flux_job_id_ascii.out').read_text().splitlines():
        assert parse_job_id(line) == 19176357888


def test_submit_output_is_an_id() -> None:
    for f in ('flux_submit.out', 'flux_submit_ok.out'):
        text = (SAMPLES / f).read_text()
        n = parse_job_id(text)
        assert to_f58(n) == text.strip()


@pytest.mark.parametrize('bad', ['', 'WDYr79', '\u0192', 'f0OIl', '0x', 'job.1', '-3',
                                 '18446744073709551616', 'ƒ' + 'z' * 12])
def test_rejected(bad: str) -> None:
    """f58 without its prefix is rejected, as Flux does (flux_jobs_f58_no_prefix)."""
    with pytest.raises(ValueError):
        parse_job_id(bad)
    assert 'invalid JobID value' in (SAMPLES / 'flux_jobs_f58_no_prefix.err').read_text()
