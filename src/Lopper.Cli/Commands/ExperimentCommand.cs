using System.CommandLine;
using System.Text.Json.Nodes;
using Lopper.Cli.Experiments;

namespace Lopper.Cli.Commands;

/// <summary>
/// `lopper experiment --config FILE.yaml`: runs a grid of prune (and train) cells against one baseline,
/// resumable, and writes results.json for `lopper report`.
/// </summary>
public static class ExperimentCommand
{
    private static readonly Option<string> Config = Flags.Required("--config", "FILE.yaml", "the experiment (format: docs/experiments.md)");
    private static readonly Option<string?> Out = Flags.Text("--out", "DIR", "output folder (default: the config's out:, else runs/experiments/NAME)");
    private static readonly Option<int?> Threads = Flags.Threads("threads per run (default: the config's threads:, else all cores)");
    private static readonly Option<bool> DryRun = Flags.Switch("--dry-run", "list the cells and their lopper commands, run nothing");
    private static readonly Option<bool> RemeasureLatency = Flags.Switch("--remeasure-latency",
        "time every finished cell's model and source again (on a quiet machine) with --threads and rewrite their latencies (with the threads, latency_threads) and results.json, which keeps the runs' thread count; trains and prunes nothing");
    private static readonly Option<string?> Cells = Flags.Text("--cells", "ID,...",
        "only these cells (ids as --dry-run lists them; * matches any run of characters, as in snacs-*): run, re-timed or listed; results.json still lists every cell");
    private static readonly Option<bool> Json = Flags.Json();

    /// <summary>The command.</summary>
    public static Command Create()
    {
        var c = new Command("experiment",
            "run a grid of methods x budgets x seeds against one baseline (resumable)")
        {
            Config, Out, Threads, DryRun, RemeasureLatency, Cells, Json,
        };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult p)
    {
        string file = p.GetValue(Config)!;
        bool json = p.GetValue(Json), dry = p.GetValue(DryRun), remeasure = p.GetValue(RemeasureLatency);
        string? outFlag = p.GetValue(Out);
        int? threadsFlag = p.GetValue(Threads);
        var config = ExperimentConfig.Load(file);
        string outDir = outFlag ?? config.Out;
        if (config.Baseline.From is { } baselineFrom) Lopper.Runs.RunFolder.CheckOutside(outDir, baselineFrom, outFlag is null ? $"{file}: out" : "--out", $"{file}: baseline.from");
        int threads = threadsFlag ?? (config.Threads > 0 ? Math.Min(config.Threads, Environment.ProcessorCount) : Environment.ProcessorCount);
        Parallelism.Threads = threads;
        var selection = p.GetValue(Cells) is { } cells ? CellSelection.Parse(cells) : null;
        var runner = new ExperimentRunner(config, outDir, threads, Console.Error, selection);
        if (dry && remeasure) throw new LopperInputException("--dry-run and --remeasure-latency exclude each other");
        // The plan first: a --cells pattern that matches nothing fails before a baseline is trained or a model timed.
        var planned = runner.Plan();
        if (dry)
        {
            if (config.Baseline.From is null) Console.WriteLine($"baseline: lopper {string.Join(' ', ExperimentPlan.BaselineArgs(config, outDir))}");
            foreach (var c in planned) Console.WriteLine($"{c.Id}: lopper {string.Join(' ', c.Args)}");
            return 0;
        }
        var outcome = remeasure ? runner.RemeasureLatency() : runner.Run();
        // The counts and the exit code are of the cells this invocation worked on (all of them without --cells).
        var ids = planned.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        var worked = outcome.Results.Cells.Where(c => ids.Contains(c.Id)).ToList();
        int failed = worked.Count(c => !c.IsOk);
        int ok = worked.Count - failed;
        if (json)
        {
            JsonOutput.Print(new JsonObject
            {
                ["name"] = config.Name,
                ["results"] = Path.GetFullPath(outcome.ResultsPath),
                ["cells"] = worked.Count,
                ["ok"] = ok,
                ["failed"] = failed,
                ["ran"] = outcome.Ran,
                ["skipped"] = outcome.Skipped,
            });
        }
        else
        {
            Console.WriteLine($"{config.Name}: {ok} cell(s) ok, {failed} failed ({outcome.Ran} run now, {outcome.Skipped} done before); results in {outcome.ResultsPath}");
        }
        if (failed > 0) Console.Error.WriteLine($"lopper experiment: {failed} cell(s) failed: {string.Join(", ", worked.Where(c => !c.IsOk).Select(c => c.Id))}");
        return failed > 0 ? 1 : 0;
    }
}
