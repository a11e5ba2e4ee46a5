using System.Text.Json.Nodes;
using Lopper.Cli.Experiments;

namespace Lopper.Cli.Commands;

/// <summary>
/// `lopper experiment --config FILE.yaml`: runs a grid of prune (and train) cells against one baseline,
/// resumable, and writes results.json for `lopper report`.
/// </summary>
public static class ExperimentCommand
{
    private const string Usage = """
        lopper experiment --config FILE.yaml [--out DIR] [--threads N] [--dry-run | --remeasure-latency] [--json]
          runs every cell of the grid (methods x budgets x seeds x fine-tune epochs) in its own folder
          under OUT/cells/, skipping cells that finished before with the same arguments, and rewrites
          OUT/results.json after every cell. A failed cell (e.g. an unknown method) is recorded as failed
          and the grid goes on; the exit code is then 1.
          --out DIR    output folder (default: the config's out:, else runs/experiments/NAME)
          --threads N  threads per run (default: the config's threads:, else all cores)
          --dry-run    list the cells and their lopper commands, run nothing
          --remeasure-latency
                       time every finished cell's model and source again (on a quiet machine) and
                       rewrite their latencies and results.json; trains and prunes nothing
        """;

    /// <summary>Runs the command.</summary>
    public static int Run(string[] raw)
    {
        var a = new Args(raw, new HashSet<string> { "json", "help", "dry-run", "remeasure-latency" });
        if (a.Flag("help")) { Console.WriteLine(Usage); return 0; }
        string file = a.Required("config");
        bool json = a.Flag("json"), dry = a.Flag("dry-run"), remeasure = a.Flag("remeasure-latency");
        string? outFlag = a.Str("out");
        int? threadsFlag = a.Has("threads") ? CommonOptions.ReadThreads(a, 1) : null;
        a.EnsureAllUsed();
        var config = ExperimentConfig.Load(file);
        string outDir = outFlag ?? config.Out;
        if (config.Baseline.From is { } baselineFrom) Lopper.Runs.RunFolder.CheckOutside(outDir, baselineFrom, outFlag is null ? $"{file}: out" : "--out", $"{file}: baseline.from");
        int threads = threadsFlag ?? (config.Threads > 0 ? Math.Min(config.Threads, Environment.ProcessorCount) : Environment.ProcessorCount);
        Parallelism.Threads = threads;
        var runner = new ExperimentRunner(config, outDir, threads, Console.Error);
        if (dry && remeasure) throw new LopperInputException("--dry-run and --remeasure-latency exclude each other");
        if (dry)
        {
            if (config.Baseline.From is null) Console.WriteLine($"baseline: lopper {string.Join(' ', ExperimentPlan.BaselineArgs(config, outDir))}");
            foreach (var c in runner.Plan()) Console.WriteLine($"{c.Id}: lopper {string.Join(' ', c.Args)}");
            return 0;
        }
        var outcome = remeasure ? runner.RemeasureLatency() : runner.Run();
        int failed = outcome.Results.Cells.Count(c => !c.IsOk);
        int ok = outcome.Results.Cells.Count - failed;
        if (json)
        {
            JsonOutput.Print(new JsonObject
            {
                ["name"] = config.Name,
                ["results"] = Path.GetFullPath(outcome.ResultsPath),
                ["cells"] = outcome.Results.Cells.Count,
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
        if (failed > 0) Console.Error.WriteLine($"lopper experiment: {failed} cell(s) failed: {string.Join(", ", outcome.Results.Cells.Where(c => !c.IsOk).Select(c => c.Id))}");
        return failed > 0 ? 1 : 0;
    }
}
