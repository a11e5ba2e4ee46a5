#!/usr/bin/env python3
"""Copies the summary lines and one table of a `lopper report` Markdown file into docs/results.md (or any page with
the markers).

Usage: bench/embed_report.py REPORT.md PAGE.md [--table "Means over seeds"] [--marker NAME]

Replaces everything between the page's `<!-- NAME:begin ... -->` and `<!-- NAME:end -->` lines (NAME: experiment
unless --marker says otherwise) with the report's summary bullets and its table under `## TABLE` (default: Headline,
one row per cell; "Means over seeds": one row per method and budget, with each seed's accuracy and the speed-up over
the MAC reduction), verbatim, so the page's experiment table is the report's output and never typed by hand.
"""
import sys


def main(argv):
    args, table, marker = [], "Headline", "experiment"
    i = 0
    while i < len(argv):
        if argv[i] in ("--table", "--marker") and i + 1 < len(argv):
            if argv[i] == "--table":
                table = argv[i + 1]
            else:
                marker = argv[i + 1]
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
    body = bullets + [""] + lines[start:end]

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
