#!/usr/bin/env python3
"""Copies the summary lines and the headline table of a `lopper report` Markdown file into docs/results.md (or any page with the markers).

Usage: bench/embed_report.py REPORT.md docs/results.md

Replaces everything between the page's `<!-- experiment:begin ... -->` and `<!-- experiment:end -->` lines
with the report's summary bullets and its "## Headline" table, verbatim, so the page's experiment table is
the report's output and never typed by hand.
"""
import sys

report, readme = sys.argv[1], sys.argv[2]
lines = open(report, encoding="utf-8").read().split("\n")
bullets = [l for l in lines[: lines.index("## Headline")] if l.startswith("- ")]
start = lines.index("## Headline") + 2
end = start
while end < len(lines) and lines[end].startswith("|"):
    end += 1
body = bullets + [""] + lines[start:end]

text = open(readme, encoding="utf-8").read().split("\n")
b = next(i for i, l in enumerate(text) if l.startswith("<!-- experiment:begin"))
e = next(i for i, l in enumerate(text) if l.startswith("<!-- experiment:end"))
text[b + 1 : e] = body
open(readme, "w", encoding="utf-8").write("\n".join(text))
print(f"{readme}: {len(body) - len(bullets) - 3} headline rows from {report}")
