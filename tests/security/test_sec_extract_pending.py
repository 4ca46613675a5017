"""What was stored with `--no-extract` is extracted later: `npswatch extract-pending` (and the job of that
name) gives those posts the facts a normal write would have, once; an edit stored without extraction makes
its post pending again."""
from __future__ import annotations

from sqlalchemy import func, select
from typer.testing import CliRunner

from npswatch.cli.app import app
from npswatch.config import load_settings
from npswatch.pipelines.extract import default_extractor
from npswatch.pipelines.rawpost import RawPost, SourceHints
from npswatch.schedules import find_job
from npswatch.scheduler.jobs import command_line
from npswatch.storage.db import make_engine, upgrade
from npswatch.storage.tables import T_OFFER, T_POST
from npswatch.storage.writer import PostWriter


def _posts(n, suffix=""):
    return [RawPost(source="synthetic-shop", external_id=str(i), text=f"мефедрон 1г {4000 + i}₽ Москва{suffix}",
                    hints=SourceHints(country="RU")) for i in range(n)]


def _offers(engine):
    with engine.connect() as c:
        return sorted(c.execute(select(T_OFFER.c.post_id, T_OFFER.c.price)).all())


def test_posts_stored_without_facts_get_them_later_once(tmp_path, pseudonymiser):
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[privacy]\nkey = "{"k" * 32}"\n', encoding="utf-8")
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(engine)
    x = default_extractor()
    extract = lambda t, h, d: x.extract(t, posted_at=d, hints=h)  # noqa: E731
    PostWriter(engine, pseudonymiser, None).write(_posts(5))  # --no-extract
    assert _offers(engine) == []
    env = {"NPSWATCH_CONFIG": str(cfg)}
    r = CliRunner().invoke(app, ["extract-pending", "--batch-size", "2"], env=env)
    assert r.exit_code == 0, r.output
    assert "extracted 5 pending posts: 5 offers" in " ".join(r.output.split())
    done = _offers(engine)
    assert [p for _, p in done] == [4000 + i for i in range(5)]

    # the same facts a normal write gives
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade(other)
    PostWriter(other, pseudonymiser, extract).write(_posts(5))
    assert _offers(other) == done

    r = CliRunner().invoke(app, ["extract-pending"], env=env)
    assert "extracted 0 pending posts" in r.output and _offers(engine) == done  # nothing twice

    PostWriter(engine, pseudonymiser, None).write(_posts(2, " (изменено)"))  # edits stored without extraction
    with engine.connect() as c:
        assert c.execute(select(func.count()).where(T_POST.c.extracted_at.is_(None))).scalar() == 2
    r = CliRunner().invoke(app, ["extract-pending"], env=env)
    assert "extracted 2 pending posts" in r.output and len(_offers(engine)) == 5


def test_extract_pending_is_a_job(tmp_path):
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "data"\n[[schedules]]\njob = "extract-pending"\nevery = "1h"\n', encoding="utf-8")
    settings = load_settings(cfg)
    job = find_job(settings, "extract-pending")
    assert job.schedule == "every 1h" and command_line(job, settings)[-1] == "extract-pending"
