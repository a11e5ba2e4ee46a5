using System.Numerics.Tensors;
using Lopper.Methods;
using Lopper.Pruning.Snacs;
using Lopper.Pruning.SrInit;
using Lopper.Runs;
using Lopper.Tests.Cli;
using Lopper.Tests.Data;
using static Lopper.Tests.Cli.CliHarness;

namespace Lopper.Tests.Runs;

/// <summary>The method registry: a method states its options once and is registered in one line.</summary>
[Collection(ConsoleCollection.Name)]
public class MethodRegistryTests
{
    [Fact]
    public void AChannelScoringMethodIsItsOwnFileAndOneRegistrationLine()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 60, 20);
        var trained = TrainTiny(dir, "lenet5", data);

        var registry = PruningMethods.Registry.With(L2FilterPruner.Info);   // the one registration line
        var info = registry.Get("l2");
        var method = info.Create([new OptionValue("target-macs", "0.5")]);
        var source = RunFolder.Load(trained);
        var result = PrunePipeline.Run(new PruneRequest { Source = source, Method = method, LatencyBatch = 2 });

        Assert.Equal("l2", result.Record.Method);
        // The source model is left as loaded (L1-style methods mask the model they are given before compacting).
        var again = RunFolder.Load(trained);
        Assert.True(source.Model.Parameters.Zip(again.Model.Parameters).All(x => x.First.Value.Span.SequenceEqual(x.Second.Value.Span)));
        Assert.InRange(result.Record.MacsKept, 0.3, 0.52);
        // conv1 kept exactly its filters of largest L2 norm, unchanged.
        var before = source.Model.Find("conv1.weight")!.Value;
        var after = result.Model.Find("conv1.weight")!.Value;
        int filters = before.Shape[0], kept = after.Shape[0], size = before.Length / filters;
        Assert.True(kept < filters);
        var norms = Enumerable.Range(0, filters).Select(f => TensorPrimitives.Norm(before.Span.Slice(f * size, size))).ToArray();
        var top = Enumerable.Range(0, filters).OrderByDescending(f => norms[f]).Take(kept).Order().ToArray();
        for (int i = 0; i < kept; i++)
            Assert.True(after.Span.Slice(i * size, size).SequenceEqual(before.Span.Slice(top[i] * size, size)), $"kept filter {i} is not source filter {top[i]}");
    }

    [Fact]
    public void OptionsComeFromTheRecordWithTheirDefaultsAndChecks()
    {
        var srinit = PruningMethods.Registry.Get("srinit");
        var usage = srinit.Options.Select(o => o.Usage()).ToList();
        Assert.Contains(usage, u => u.StartsWith("--donor-seed N (default 1): ", StringComparison.Ordinal));
        Assert.Contains(usage, u => u.StartsWith("--criterion srinit|random|l1 (default srinit): ", StringComparison.Ordinal));
        Assert.Contains(usage, u => u == "--include-downsampling: let down-sampling blocks go too (their projection shortcut stays)");

        var options = OptionBinder.Bind<SrInitOptions>([new("blocks", "2"), new("criterion", "l1"), new("include-downsampling", null)], "srinit");
        Assert.Equal(new SrInitOptions { Blocks = 2, Criterion = BlockCriterion.L1, IncludeDownsampling = true }, options);
        Assert.Equal(["blocks=2", "criterion=l1", "include-downsampling="], OptionBinder.Describe(options).Select(v => $"{v.Name}={v.Value}"));

        // A bad value names the record's property for a C# caller; the CLI respells it as its flag.
        var e = Assert.Throws<LopperInputException>(() => srinit.Create([new OptionValue("tau", "abc")]));
        Assert.Equal("Tau must be a finite number, got 'abc'", e.Message);
        Assert.Equal("--tau must be a finite number, got 'abc'", OptionInfo.Respell(e, n => "--" + n));
        e = Assert.Throws<LopperInputException>(() => new SnacsPruner(new SnacsOptions { TargetParams = 0.5, ProtectFraction = 2 }));
        Assert.Equal("--protect must be in [0, 1], got 2", OptionInfo.Respell(e, n => "--" + n));
        e = Assert.Throws<LopperInputException>(() => PruningMethods.Registry.Get("l1").Create([new OptionValue("tau", "0.1")]));
        Assert.StartsWith("method l1 has no option 'tau' (its options: target-macs, target-params, scope, max-layer-ratio, round-to)", e.Message);
    }

    [Fact]
    public void TheCliSpeaksFlagsForLibraryChecks()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 60, 20);
        var trained = TrainTiny(dir, "lenet5", data);
        var (code, _, err) = Run("prune", "snacs", "--from", trained, "--out", dir.File("p"), "--target-params", "0.5", "--protect", "2");
        Assert.Equal(2, code);
        Assert.Equal("lopper prune: --protect must be in [0, 1], got 2", err.Trim());
        (code, _, err) = Run("prune", "srinit", "--from", trained, "--out", dir.File("p"), "--tau", "0.1", "--blocks", "1");
        Assert.Equal(2, code);
        Assert.Equal("lopper prune: give exactly one of --target-macs F, --target-params F, --tau T or --blocks K", err.Trim());
        (code, var help, _) = Run("prune", "--help");
        Assert.Equal(0, code);
        // Each method is a subcommand whose help is its summary and the flags of its options record.
        foreach (var m in PruningMethods.Registry.Methods)
        {
            Assert.Matches($@"(?m)^  {System.Text.RegularExpressions.Regex.Escape(m.Name)} ", help);
            (code, var methodHelp, _) = Run("prune", m.Name, "--help");
            Assert.Equal(0, code);
            Assert.Contains(m.Summary, System.Text.RegularExpressions.Regex.Replace(methodHelp, @"\s+", " "));
            foreach (var o in m.Options) Assert.Contains($"--{o.Name}", methodHelp);
        }
        (_, help, _) = Run("prune", "snacs", "--help");
        Assert.Matches(@"--ul-step <F> +step of the upper-limit grid \[default: 0\.02\]", help);
    }
}
