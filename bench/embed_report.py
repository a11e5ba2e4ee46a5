#!/usr/bin/env python3
"""Copies the summary lines and one table of a `lopper report` Markdown file into docs/results.md (or any page with
the markers).

Usage: bench/embed_report.py REPORT.md PAGE.md [--table "Means over seeds"] [--marker NAME] [--drop-column HEADER]...

Replaces everything between the page's `<!-- NAME:begin ... -->` and `<!-- NAME:end -->` lines (NAME: experiment
unless --marker says otherwise) with the report's summary bullets and its table under `## TABLE` (default: Headline,
one row per cell; "Means over seeds": one row per method and budget, with each seed's accuracy and the speed-up over
the MAC reduction), verbatim, so the page's experiment table is the report's output and never typed by hand.
--drop-column leaves out a column by its header (repeatable): for latencies that were measured on a busy machine
and are reported elsewhere from a quiet one.
"""
import sys


def main(argv):
    args, table, marker, drop = [], "Headline", "experiment", []
    i = 0
    while i < len(argv):
        if argv[i] in ("--table", "--marker", "--drop-column") and i + 1 < len(argv):
            if argv[i] == "--table":
                table = argv[i + 1]
            elif argv[i] == "--marker":
                marker = argv[i + 1]
            else:
                drop.append(argv[i + 1])
            i += 2
        elif argv[i].startswith("--"):
            sys.exit(f"embed_report.py: unknown flag {argv[i]}\n\n{__doc__.strip()}")
        else:
            args.append(argv[i])
            i += 1
    if len(args) != 2:
        sys.exit(__doc__.strip())
    report, page = args
    lines = open(report, encoding="utf-8").read().split("\n")
    heading = "## " + table
    if heading not in lines:
        sys.exit(f"{report}: no '{heading}' section (is it a `lopper report` Markdown file?)")
    bullets = [l for l in lines[: lines.index("## Headline")] if l.startswith("- ")]
    start = lines.index(heading) + 2
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    rows = lines[start:end]
    if drop:
        header = [c.strip() for c in rows[0].strip("|").split("|")]
        missing = [d for d in drop if d not in header]
        if missing:
            sys.exit(f"{report}: table '{table}' has no column {missing[0]!r} (columns: {', '.join(header)})")
        keep = [k for k, h in enumerate(header) if h not in drop]
        rows = ["| " + " | ".join(r.strip().strip("|").split("|")[k].strip() for k in keep) + " |" for r in rows]
        rows[1] = "|" + "---|" * len(keep)
    body = bullets + [""] + rows

    text = open(page, encoding="utf-8").read().split("\n")
    try:
        b = next(i for i, l in enumerate(text) if l.startswith(f"<!-- {marker}:begin"))
        e = next(i for i, l in enumerate(text) if l.startswith(f"<!-- {marker}:end"))
    except StopIteration:
        sys.exit(f"{page}: no <!-- {marker}:begin --> / <!-- {marker}:end --> markers")
    text[b + 1 : e] = body
    open(page, "w", encoding="utf-8").write("\n".join(text))
    print(f"{page}: {end - start - 2} '{table}' rows from {report}")


if __name__ == "__main__":
    main(sys.argv[1:])
