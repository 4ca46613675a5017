"""`npswatch extract` and `npswatch eval`: the extractor on JSON Lines, for pipes and for scoring."""
from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .common import console, example, fail, out, run

app = typer.Typer()  # this module's top-level commands; npswatch.cli.app registers them


class BadLine(ValueError):
    """One input line that cannot be extracted; the message says which and why."""


def _open(file: Optional[Path]):
    if file is None or str(file) == "-":
        return sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
    try:
        fh = open(file, "rb")
    except OSError as exc:
        fail(f"{file}: cannot read it ({exc.strerror or exc}); give a JSON Lines file")
    if b"\x00" in fh.read(8192):
        fh.close()
        fail(f"{file}: is a binary file, not JSON Lines (one JSON object with `id` and `text` per line)")
    fh.seek(0)
    return fh


def _read_lines(file: Optional[Path], on_bad=None):
    """(line number, object) of every usable line. A bad line raises BadLine through `on_bad(exc)` when given
    (the caller reports it and goes on), else it is a one-line error (exit 2)."""
    where = file or "stdin"
    fh = _open(file)
    try:
        for n, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except UnicodeDecodeError:
                    raise
                except (json.JSONDecodeError, RecursionError) as exc:
                    raise BadLine(f"{where} line {n}: not JSON ({getattr(exc, 'msg', 'nested too deep')})") from None
                if not isinstance(obj, dict) or "text" not in obj or "id" not in obj:
                    raise BadLine(f"{where} line {n}: needs an object with `id` and `text`")
            except UnicodeDecodeError:
                exc = BadLine(f"{where} line {n}: not UTF-8 text")
            except BadLine as bad:
                exc = bad
            else:
                yield n, obj
                continue
            if on_bad is None:
                fail(str(exc))
            on_bad(exc)
    finally:
        if fh not in (sys.stdin, getattr(sys.stdin, "buffer", None)):
            fh.close()


def _posted_at(obj: dict, n: int):
    v = obj.get("posted_at")
    if not v:
        return None
    try:
        return datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        raise BadLine(f"line {n}: posted_at {str(v)[:40]!r} is not ISO 8601") from None


def _hints(obj: dict, n: int):
    from npswatch.pipelines.rawpost import SourceHints

    src = obj.get("source")
    if not isinstance(src, dict):
        return None
    try:
        return SourceHints(**{k: src.get(k) for k in ("country", "currency", "language")})
    except Exception as exc:  # noqa: BLE001
        raise BadLine(f"line {n}: bad source hints ({str(exc).splitlines()[0][:120]})") from None


def _extract_all(ctx: typer.Context, lines, on_bad=None):
    run(lambda: ctx.obj.database_extractor)
    for n, obj in lines:
        try:
            facts = ctx.obj.extract(str(obj["text"]), posted_at=_posted_at(obj, n), hints=_hints(obj, n))
            result = facts.to_json(obj["id"])
        except BadLine as exc:
            if on_bad is None:
                fail(str(exc))
            on_bad(exc)
            continue
        except (ValueError, TypeError, RecursionError, OverflowError) as exc:  # a text the extractor cannot read
            if on_bad is None:
                raise
            on_bad(BadLine(f"line {n}: not extracted ({type(exc).__name__}: {str(exc)[:120]})"))
            continue
        yield obj, result


def _dumps(obj) -> str:
    try:
        return json.dumps(obj, ensure_ascii=False).encode("utf-8").decode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in the input: escaped, still valid JSON
        return json.dumps(obj, ensure_ascii=True)


@app.command(epilog=example("echo '{\"id\": 1, \"text\": \"меф 1г 4500₽ Москва\"}' | npswatch extract"))
def extract(
    ctx: typer.Context,
    file: Optional[Path] = typer.Argument(None, help="JSON Lines with `id`, `text`, optional `posted_at` and `source` hints; default stdin."),
) -> None:
    """Extract substances, offers, regions and new-name candidates: one JSON object per input line, same order.
    A line that cannot be read or extracted is reported on stderr and left out; the others go on."""
    write = sys.stdout.write
    skipped: list[str] = []

    def on_bad(exc: BadLine) -> None:
        skipped.append(str(exc))
        console.print(Text("skipped ", style="yellow") + Text(str(exc)), highlight=False, soft_wrap=True)

    for _, result in _extract_all(ctx, _read_lines(file, on_bad), on_bad):
        write(_dumps(result) + "\n")
    sys.stdout.flush()
    if skipped:
        console.print(Text(f"{len(skipped)} lines skipped; the others were extracted"), highlight=False)


@app.command("extract-pending", epilog=example("npswatch extract-pending --limit 10000"))
def extract_pending(
    ctx: typer.Context,
    batch: int = typer.Option(500, "--batch-size", min=1, help="Posts per transaction."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Extract at most this many posts."),
) -> None:
    """Extract the facts of posts stored with `--no-extract` (crawl, import-telegram, listen, reparse). Also a
    scheduled job: `[[schedules]] job = "extract-pending"`. Rerunning extracts nothing twice."""
    from npswatch.storage.runs import finish_run, start_run

    def _go():
        engine = ctx.obj.checked_engine()
        writer = ctx.obj.writer(extract=True)
        rid = start_run(engine, "extract-pending")
        try:
            res = writer.extract_pending(batch=batch, limit=limit)
        except BaseException as exc:
            finish_run(engine, rid, status="failed", message=repr(exc))
            raise
        finish_run(engine, rid, items=res.inserted, message=f"posts={res.inserted} offers={res.offers} "
                                                            f"mentions={res.mentions} candidates={res.candidates}")
        return res

    res = run(_go)
    out.print(f"extracted {res.inserted} pending posts: {res.offers} offers, {res.mentions} mentions, "
              f"{res.candidates} candidates", highlight=False)


@app.command("eval", epilog=example("npswatch eval tests/data/labelled.jsonl --misses"))
def eval_(
    ctx: typer.Context,
    gold: Path = typer.Argument(..., help="Labelled JSON Lines: each line as for `extract`, with a `gold` object."),
    misses: bool = typer.Option(True, "--misses/--no-misses", help="List the lines the extractor got wrong."),
    min_f1: float = typer.Option(0.0, "--min-f1", help="Exit 1 when any field's F1 is below this."),
    predictions: Optional[Path] = typer.Option(None, "--write-predictions", help="Also write the predictions here."),
) -> None:
    """Score the extractor on labelled lines: precision, recall and F1 per field, and the misses."""
    cases = []
    for n, obj in _read_lines(gold):
        if "gold" not in obj:
            fail(f"{gold}: line with id {obj['id']!r} has no `gold`")
        obj["posted_at"], obj["source"] = _posted_at(obj, n), _hints(obj, n)
        cases.append(obj)
    s, preds = run(lambda: ctx.obj.evaluate(cases))
    if predictions:
        with open(predictions, "w", encoding="utf-8") as sink:
            for c in cases:
                sink.write(json.dumps(preds[c["id"]], ensure_ascii=False) + "\n")
    if misses:
        by_id = {c["id"]: c for c in cases}
        for line in s.misses:
            cid = line.split(" ", 1)[0]
            cid_typed = next((k for k in by_id if str(k) == cid), cid)
            out.print(f"[yellow]miss[/] {escape(line)}  [dim]{escape(repr(by_id[cid_typed]['text'][:90]))}[/]",
                      highlight=False)
    table = Table(title=f"{gold}: {s.cases} lines")
    for col in ("field", "precision", "recall", "F1", "tp", "fp", "fn"):
        table.add_column(col, justify="right" if col != "field" else "left")
    for fld, p, r, f, tp, fp, fn in s.rows():
        table.add_row(fld, f"{p:.3f}", f"{r:.3f}", f"{f:.3f}", str(tp), str(fp), str(fn))
    out.print(table)
    out.print(f"new-name recall {s.cand_hit}/{s.cand_all}")
    if min(s.f1(f) for f in ("substances", "offers", "regions")) < min_f1:
        raise typer.Exit(1)
