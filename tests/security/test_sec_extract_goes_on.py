"""`npswatch extract` goes on past a bad line: each one is reported on stderr (file and line number), the
others are extracted in order; a binary or unreadable file is one line, exit 2. Hypothesis feeds it hostile
lines."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from npswatch.cli.app import app

GOOD = '{"id": %d, "text": "меф 1г 4500₽ Москва"}'


def _run(tmp_path, lines: list[str] | bytes):
    f = tmp_path / "in.jsonl"
    f.write_bytes(lines if isinstance(lines, bytes) else "\n".join(lines).encode("utf-8", "surrogatepass"))
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    return CliRunner().invoke(app, ["extract", str(f)], env={"NPSWATCH_CONFIG": str(cfg)})


def test_bad_lines_are_reported_and_the_rest_extracted(tmp_path):
    r = _run(tmp_path, [GOOD % 1, "not json", '{"id": 2}', '{"id": 3, "text": "x", "posted_at": "вчера"}',
                        "[" * 100_000, '{"id": 4, "text": "лоне \\ud800 меф 1г 4500₽"}', GOOD % 5])
    assert r.exit_code == 0, r.output
    assert [json.loads(x)["id"] for x in r.stdout.splitlines()] == [1, 4, 5]
    err = " ".join(r.stderr.split())
    for n in (2, 3, 4, 5):
        assert f"line {n}:" in err
    assert "4 lines skipped" in err and "Traceback" not in r.output


def test_a_binary_file_is_one_clear_line(tmp_path):
    r = _run(tmp_path, b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    assert r.exit_code == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "binary file" in r.stderr


HOSTILE = st.one_of(st.text(max_size=30), st.builds(lambda v: json.dumps({"id": 1, "text": v}), st.text(max_size=30)),
                    st.builds(lambda k, v: json.dumps({"id": v, "text": "меф 1г", k: v}),
                              st.sampled_from(["posted_at", "source", "id"]),
                              st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=10),
                                        st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2))))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(HOSTILE, min_size=1, max_size=5))
def test_hostile_lines_never_stop_the_run(tmp_path, lines):
    lines = [x.replace("\n", " ").replace("\r", " ") for x in lines] + [GOOD % 9]
    r = _run(tmp_path, lines)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.splitlines()[-1])["id"] == 9
