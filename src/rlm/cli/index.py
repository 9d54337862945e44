"""`rlm index build SOURCE --index PATH`: fill the embedded search index from files.

Shows a progress bar (files and bytes), commits every batch, and resumes: a rerun skips
files already indexed and unchanged (see rlm.retrieval.ingest).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(name="index", context_settings=CONTEXT_SETTINGS)
def index_group() -> None:
    """Build and inspect the embedded search index (for `rlm run --index`)."""


@index_group.command("build", context_settings=CONTEXT_SETTINGS)
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--index", "index_path", required=True, type=click.Path(path_type=Path), help="Index directory."
)
@click.option(
    "--chunk-chars",
    type=click.IntRange(min=0),
    default=8_000,
    show_default=True,
    help="Split text files into documents of about this size (0: one per file).",
)
@click.option(
    "--tokenizer",
    type=click.Choice(["default", "en_stem"]),
    default="default",
    show_default=True,
    help="For a new index: 'en_stem' also matches English word forms.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def build(source: Path, index_path: Path, chunk_chars: int, tokenizer: str, quiet: bool) -> None:
    """Index the text files under SOURCE (a directory, a file, or a .jsonl of documents)."""
    from rlm.retrieval.ingest import ingest, source_files
    from rlm.retrieval.local_index import LocalIndex
    from rlm.retrieval.protocol import RetrievalError

    err = Console(stderr=True, markup=False, highlight=False)
    start = time.perf_counter()
    try:
        index = LocalIndex(index_path, tokenizer=tokenizer)
        total = len(source_files(source))
        with Progress(
            TextColumn("indexing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[current]}"),
            console=err,
            disable=quiet,
            transient=False,
        ) as bar:
            task = bar.add_task("files", total=total, current="")
            report = ingest(
                index,
                source,
                chunk_chars=chunk_chars,
                on_file=lambda path, _size: bar.update(task, advance=1, current=path[-40:]),
            )
        docs = index.num_docs
        index.close()
    except RetrievalError as exc:
        err.print(f"error: {exc}", style="red")
        sys.exit(2)
    for path, why in report.unreadable[:20]:
        err.print(f"skipped {path}: {why}", style="yellow")
    if len(report.unreadable) > 20:
        err.print(f"... and {len(report.unreadable) - 20} more unreadable files", style="yellow")
    click.echo(
        f"{index_path}: {docs:,} documents; this run added {report.documents:,} from "
        f"{report.files_added:,} files, {report.files_skipped_unchanged:,} unchanged files "
        f"skipped ({time.perf_counter() - start:.1f} s)"
    )
