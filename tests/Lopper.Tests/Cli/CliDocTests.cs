using static Lopper.Tests.Cli.CliHarness;

namespace Lopper.Tests.Cli;

/// <summary>docs/cli.md shows what the commands print: every command's --help appears there verbatim (bench/update_cli_doc.py rewrites it).</summary>
[Collection(ConsoleCollection.Name)]
public class CliDocTests
{
    [Fact]
    public void EveryCommandsHelpIsInTheCommandReference()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root!.FullName, "Lopper.slnx"))) root = root.Parent;
        string doc = File.ReadAllText(Path.Combine(root.FullName, "docs", "cli.md")).ReplaceLineEndings("\n");
        var (code, overview, _) = Run("--help");
        Assert.Equal(0, code);
        var commands = Subcommands(overview);
        Assert.True(commands.Count >= 16, overview);
        int checkedHelps = 0;
        // Every command and subcommand (prune's methods, bench's micro-benchmarks).
        var queue = new Queue<string[]>(commands.Select(c => new[] { c }));
        while (queue.TryDequeue(out var c))
        {
            var (rc, help, err) = Run([.. c, "--help"]);
            Assert.True(rc == 0, $"{string.Join(' ', c)} --help: {err}");
            Assert.True(doc.Contains(help.ReplaceLineEndings("\n").TrimEnd('\n')), $"docs/cli.md lacks the current `lopper {string.Join(' ', c)} --help`; run bench/update_cli_doc.py");
            foreach (var sub in Subcommands(help)) queue.Enqueue([.. c, sub]);
            checkedHelps++;
        }
        Assert.True(checkedHelps >= commands.Count + 8 + 4, $"{checkedHelps} helps");
    }

    // The names listed under "Commands:" in a help text.
    private static List<string> Subcommands(string help)
    {
        var lines = help.ReplaceLineEndings("\n").Split('\n');
        int start = Array.IndexOf(lines, "Commands:");
        if (start < 0) return [];
        return lines.Skip(start + 1).TakeWhile(l => l.Length > 0).Where(l => l.StartsWith("  ", StringComparison.Ordinal) && char.IsLetter(l[2]))
            .Select(l => l.Trim().Split(' ')[0]).ToList();
    }

    [Fact]
    public void AMisspeltFlagGetsTheNearestKnownOne()
    {
        var (code, _, err) = Run("train", "--model", "lenet5", "--epoch", "2");
        Assert.Equal(2, code);
        Assert.Equal("lopper train: unknown flag --epoch (did you mean --epochs?)", err.Trim());
        (code, _, err) = Run("prune", "l1", "--form", "x", "--out", "y");
        Assert.Equal(2, code);
        Assert.Equal("lopper prune: --from is required (--form was given: a typo?)", err.Trim());
        (code, _, err) = Run("eval", "--from", "x", "--zzz", "1");
        Assert.Equal(2, code);
        Assert.DoesNotContain("did you mean", err);
    }
}
