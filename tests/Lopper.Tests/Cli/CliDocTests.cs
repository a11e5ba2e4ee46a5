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
        var commands = overview.Split('\n').Where(l => l.StartsWith("  ", StringComparison.Ordinal) && l.Length > 2 && char.IsLetter(l[2]))
            .Select(l => l.Trim().Split(' ')[0]).ToList();
        Assert.True(commands.Count >= 15, overview);
        foreach (var c in commands)
        {
            var (rc, help, err) = Run(c, "--help");
            Assert.True(rc == 0, $"{c} --help: {err}");
            Assert.True(doc.Contains(help.ReplaceLineEndings("\n").TrimEnd('\n')), $"docs/cli.md lacks the current `lopper {c} --help`; run bench/update_cli_doc.py");
        }
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
