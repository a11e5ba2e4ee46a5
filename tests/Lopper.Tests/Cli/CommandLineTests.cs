using System.Text.Json.Nodes;
using static Lopper.Tests.Cli.CliHarness;

namespace Lopper.Tests.Cli;

/// <summary>The command line on System.CommandLine: generated help, one-line parse errors (exit 2), JSON errors, and completions through [suggest].</summary>
[Collection(ConsoleCollection.Name)]
public class CommandLineTests
{
    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("prune", "snacs", "-h")]
    [InlineData("bench", "gemm", "--help")]
    [InlineData("train", "--epoch", "2", "--help")]
    public void HelpIsGeneratedAndExitsZero(params string[] args)
    {
        var (code, output, err) = Run(args);
        Assert.Equal(0, code);
        Assert.Equal("", err);
        Assert.Contains("Usage:\n  lopper", output.ReplaceLineEndings("\n"));
        Assert.Contains("-h, --help", output);
        Assert.DoesNotMatch(@"(?m)[ \t]$", output.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void NoArgumentsPrintsTheCommandListAndExitsTwo()
    {
        var (code, output, _) = Run();
        Assert.Equal(2, code);
        Assert.Contains("Commands:", output);
        Assert.Contains("  prune ", output);
    }

    [Theory]
    [InlineData("lopper inspect: --model given twice", "inspect", "--model", "lenet5", "--model", "vgg11")]
    [InlineData("lopper inspect: --model needs a value", "inspect", "--model")]
    [InlineData("lopper train: --epochs must be an integer, got 'abc'", "train", "--model", "lenet5", "--epochs", "abc")]
    [InlineData("lopper eval: --runtime must be lopper or ort, got 'onnx'", "eval", "--from", "x", "--runtime", "onnx")]
    [InlineData("lopper inspect: unexpected argument 'extra'", "inspect", "--model", "lenet5", "extra")]
    [InlineData("lopper prune: unknown flag --tua (did you mean --tau?)", "prune", "srinit", "--from", "x", "--out", "y", "--tua", "1")]
    [InlineData("lopper prune: unknown flag --tau", "prune", "l1", "--from", "x", "--out", "y", "--tau", "1")]
    [InlineData("lopper prune: prune needs a pruning method: l1, bn-slimming, magnitude, random, srinit, spp, complexity-aware, snacs (see 'lopper prune --help')", "prune")]
    [InlineData("lopper bench: unknown bench 'gemmm' (did you mean gemm? known: gemm, snacs-estimator, sparse-conv, loader)", "bench", "gemmm")]
    [InlineData("lopper: unknown command 'pruen' (did you mean prune? known: train, eval, inspect, prune,", "pruen", "l1")]
    [InlineData("lopper prune: unknown pruning method 'snip' (known: l1,", "prune", "snip", "--from", "x", "--out", "y")]
    public void ParseErrorsAreOneLineExitTwo(string expected, params string[] args)
    {
        var (code, output, err) = Run(args);
        Assert.Equal(2, code);
        Assert.StartsWith(expected, err.Trim());
        Assert.Single(err.Trim().Split('\n'));
        // Not System.CommandLine's error report with the help under it.
        Assert.Equal("", output);
    }

    [Fact]
    public void WithJsonAParseErrorIsAlsoAJsonObjectOnStdout()
    {
        // demo takes --json like every command; its bad value is reported before anything trains.
        var (code, output, err) = Run("demo", "--epochs", "0", "--json");
        Assert.Equal(2, code);
        var o = JsonNode.Parse(output)!;
        Assert.Equal("demo", (string)o["command"]!);
        Assert.Equal("--epochs must be at least 1, got 0", (string)o["error"]!);
        Assert.Equal(2, (int)o["exit_code"]!);
        Assert.Equal("lopper demo: --epochs must be at least 1, got 0", err.Trim());
    }

    // What `lopper completion bash` asks for (the line as typed and the cursor position, through [suggest:N]) and
    // offers: the candidates that start with the word being completed, as compgen -W keeps them, in order.
    private static string[] Suggest(string line)
    {
        var (code, output, err) = Run($"[suggest:{line.Length}]", line);
        Assert.True(code == 0, err);
        string word = line[(line.LastIndexOf(' ') + 1)..];
        return [.. output.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(c => c.StartsWith(word, StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
    }

    [Fact]
    public void CompletionsComeFromTheDeclaredCommandsFlagsAndValues()
    {
        Assert.Equal(["snacs", "spp", "srinit"], Suggest("lopper prune s"));
        Assert.Equal(["snacs"], Suggest("lopper prune sn"));
        Assert.Equal(["--target-macs", "--target-params"], Suggest("lopper prune l1 --tar"));
        // Each method's own flags: SNACS budgets parameters only.
        Assert.Equal(["--target-macs", "--target-params"], Suggest("lopper prune snacs --tar"));
        // Only SNACS's own options and the shared prune flags: SR-init's --tau is not offered.
        var all = Suggest("lopper prune snacs --");
        Assert.Contains("--protect", all);
        Assert.Contains("--from", all);
        Assert.DoesNotContain("--tau", all);
        Assert.Equal(["lopper", "ort"], Suggest("lopper eval --runtime "));
        Assert.Equal(["high", "low", "none"], Suggest("lopper prune snacs --sensitivity "));
        Assert.Contains("cifar10", Suggest("lopper train --dataset "));
        Assert.Contains("resnet20", Suggest("lopper inspect --model res"));
        Assert.Contains("export-images", Suggest("lopper ex"));
    }

    [Fact]
    public void CompletionScriptsCallTheSuggestDirective()
    {
        var (code, bash, _) = Run("completion", "bash");
        Assert.Equal(0, code);
        Assert.Contains("\"[suggest:${COMP_POINT}]\" \"${COMP_LINE}\"", bash);
        Assert.Contains("complete -o default -F _lopper_complete lopper", bash);
        (code, var zsh, _) = Run("completion", "zsh");
        Assert.Equal(0, code);
        Assert.Contains("\"[suggest:${CURSOR}]\" \"${BUFFER}\"", zsh);
        (code, _, var err) = Run("completion", "fish");
        Assert.Equal(2, code);
        Assert.Contains("unknown shell 'fish'", err);
    }
}
