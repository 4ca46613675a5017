"""`npswatch extract` and `npswatch eval`: the extractor on JSON Lines, for pipes and for scoring."""
from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from .common import example, fail, out, run

app = typer.Typer()  # this module's top-level commands; npswatch.cli.app registers them


def _read_lines(file: Optional[Path]):
    fh = sys.stdin if file is None or str(file) == "-" else open(file, encoding="utf-8")
    try:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                fail(f"{file or 'stdin'} line {n}: not JSON ({exc.msg})")
            if not isinstance(obj, dict) or "text" not in obj or "id" not in obj:
                fail(f"{file or 'stdin'} line {n}: needs an object with `id` and `text`")
            yield n, obj
    finally:
        if fh is not sys.stdin:
            fh.close()


def _posted_at(obj: dict, n: int):
    v = obj.get("posted_at")
    if not v:
        return None
    try:
        return datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        fail(f"line {n}: posted_at {v!r} is not ISO 8601")


def _hints(obj: dict, n: int):
    from npswatch.pipelines.rawpost import SourceHints

    src = obj.get("source")
    if not isinstance(src, dict):
        return None
    try:
        return SourceHints(**{k: src.get(k) for k in ("country", "currency", "language")})
    except Exception as exc:  # noqa: BLE001
        fail(f"line {n}: bad source hints ({exc})")


def _extract_all(ctx: typer.Context, lines):
    run(lambda: ctx.obj.database_extractor)
    for n, obj in lines:
        facts = ctx.obj.extract(str(obj["text"]), posted_at=_posted_at(obj, n), hints=_hints(obj, n))
        yield obj, facts.to_json(obj["id"])


@app.command(epilog=example("echo '{\"id\": 1, \"text\": \"меф 1г 4500₽ Москва\"}' | npswatch extract"))
def extract(
    ctx: typer.Context,
    file: Optional[Path] = typer.Argument(None, help="JSON Lines with `id`, `text`, optional `posted_at` and `source` hints; default stdin."),
) -> None:
    """Extract substances, offers, regions and new-name candidates: one JSON object per input line, same order."""
    write = sys.stdout.write
    for _, result in _extract_all(ctx, _read_lines(file)):
        write(json.dumps(result, ensure_ascii=False) + "\n")
    sys.stdout.flush()


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
            out.print(f"[yellow]miss[/] {line}  [dim]{by_id[cid_typed]['text'][:90]!r}[/]", highlight=False)
    table = Table(title=f"{gold}: {s.cases} lines")
    for col in ("field", "precision", "recall", "F1", "tp", "fp", "fn"):
        table.add_column(col, justify="right" if col != "field" else "left")
    for fld, p, r, f, tp, fp, fn in s.rows():
        table.add_row(fld, f"{p:.3f}", f"{r:.3f}", f"{f:.3f}", str(tp), str(fp), str(fn))
    out.print(table)
    out.print(f"new-name recall {s.cand_hit}/{s.cand_all}")
    if min(s.f1(f) for f in ("substances", "offers", "regions")) < min_f1:
        raise typer.Exit(1)
