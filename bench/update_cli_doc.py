#!/usr/bin/env python3
"""Rewrites the help blocks of docs/cli.md from the CLI itself, so the page shows what `lopper CMD --help` prints.

A help block is a fenced block without a language holding one or more help texts: each is recognised by its usage
line ("Usage:" then "  lopper CMD [SUBCMD] ..."), and the block becomes the --help output of those commands, in
order, separated by a blank line. A new block may be started by writing just "lopper CMD [SUBCMD]" lines in it.
CliDocTests checks the page stays in step.
usage: bench/update_cli_doc.py [LOPPER]   (default: dotnet src/Lopper.Cli/bin/Release/net10.0/lopper.dll)
"""
import re, subprocess, sys

lopper = sys.argv[1:] or ["dotnet", "src/Lopper.Cli/bin/Release/net10.0/lopper.dll"]
path = "docs/cli.md"
text = open(path).read()

def help_of(cmd):
    out = subprocess.run(lopper + cmd.split() + ["--help"], capture_output=True, text=True, check=True).stdout
    return out.rstrip("\n")

# "  lopper prune snacs [options]" (a usage line) or "lopper prune snacs" at column 0: the command words.
command = re.compile(r"^(?:  )?lopper ((?:[a-z][a-z0-9-]*)(?: [a-z][a-z0-9-]*)*)")

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
    cmds = []
    for k, l in enumerate(body):
        m = command.match(l)
        if m and (not l.startswith("  ") or (k > 0 and body[k - 1] == "Usage:")):
            cmds.append(m.group(1))
    if line == "```" and cmds:
        out += ["```", "\n\n".join(help_of(c) for c in dict.fromkeys(cmds)), "```"]
    else:
        out += lines[i:j + 1]
    i = j + 1
open(path, "w").write("\n".join(out))
