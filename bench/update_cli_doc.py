#!/usr/bin/env python3
"""Rewrites the help blocks of docs/cli.md from the CLI itself, so the page shows what `lopper CMD --help` prints.

A help block is a fenced block without a language whose lines at column 0 start with "lopper CMD"; it becomes the
concatenated --help output of those commands, in order. CliDocTests checks the page stays in step.
usage: bench/update_cli_doc.py [LOPPER]   (default: dotnet src/Lopper.Cli/bin/Release/net10.0/lopper.dll)
"""
import re, subprocess, sys

lopper = sys.argv[1:] or ["dotnet", "src/Lopper.Cli/bin/Release/net10.0/lopper.dll"]
path = "docs/cli.md"
text = open(path).read()

def help_of(cmd):
    out = subprocess.run(lopper + [cmd, "--help"], capture_output=True, text=True, check=True).stdout
    return out.rstrip("\n")

lines = text.split("\n")
out, i = [], 0
while i < len(lines):
    line = lines[i]
    if not line.startswith("```"):
        out.append(line); i += 1; continue
    j = i + 1
    while not lines[j].startswith("```"):
        j += 1
    body = lines[i + 1:j]
    cmds = [re.match(r"lopper ([a-z-]+)", l).group(1) for l in body if re.match(r"lopper [a-z-]+", l)]
    if line == "```" and cmds:
        out += ["```"] + [help_of(c) for c in dict.fromkeys(cmds)] + ["```"]
    else:
        out += lines[i:j + 1]
    i = j + 1
open(path, "w").write("\n".join(out))
