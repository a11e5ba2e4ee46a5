using System.Globalization;

namespace Lopper.Cli.Experiments;

/// <summary>One cell to run: its id, what it is, and the exact lopper arguments (without --threads).</summary>
/// <param name="Id">Unique id, also the folder name under cells/.</param>
/// <param name="Spec">The method entry it comes from.</param>
/// <param name="Budget">The budget value, or null.</param>
/// <param name="Seed">The seed.</param>
/// <param name="Epochs">Fine-tune epochs (prune) or training epochs (train).</param>
/// <param name="Dir">The cell's run folder.</param>
/// <param name="Args">Command and flags, e.g. prune l1 --from ... (threads are added at run time and not compared on resume).</param>
public sealed record PlannedCell(string Id, MethodSpec Spec, string? Budget, int Seed, int Epochs, string Dir, IReadOnlyList<string> Args);

/// <summary>Expands a config into its cells: methods × budgets × seeds × fine-tune lengths, in config order.</summary>
public static class ExperimentPlan
{
    /// <summary>The folder the baseline is trained into (when the experiment trains it).</summary>
    public static string BaselineDir(string outDir) => Path.Combine(outDir, "baseline");

    /// <summary>The `lopper train` arguments of the baseline.</summary>
    public static IReadOnlyList<string> BaselineArgs(ExperimentConfig c, string outDir)
    {
        var args = new List<string> { "train", "--model", c.Model!, "--epochs", I(c.Baseline.Epochs), "--seed", I((int)c.Baseline.Seed), "--out", BaselineDir(outDir) };
        AddData(args, c);
        AddFlags(args, c.Baseline.Flags);
        return args;
    }

    /// <summary>Every cell of the grid; <paramref name="baselineDir"/> is the folder prune cells start from.</summary>
    public static IReadOnlyList<PlannedCell> Cells(ExperimentConfig c, string outDir, string baselineDir)
    {
        var cells = new List<PlannedCell>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in c.Methods)
        {
            var budgets = m.Budgets.Count > 0 ? m.Budgets.Select(b => (string?)b).ToList() : [null];
            var epochsList = m.Kind == "train" ? [m.Epochs] : m.FinetuneEpochs.Count > 0 ? m.FinetuneEpochs : c.FinetuneEpochs;
            foreach (var budget in budgets)
                foreach (int seed in c.Seeds)
                    foreach (int epochs in epochsList)
                    {
                        string id = Safe(m.Name + (budget is null ? "" : $"-{m.BudgetFlag}-{budget}") + $"-s{seed}" + (m.Kind == "prune" ? $"-ft{epochs}" : $"-e{epochs}"));
                        if (!ids.Add(id)) throw new LopperInputException($"{c.File}: two cells get the id '{id}'; give their method entries distinct names");
                        string dir = Path.Combine(outDir, "cells", id);
                        var args = new List<string>();
                        if (m.Kind == "prune")
                        {
                            args.AddRange(["prune", m.Method, "--from", baselineDir, "--out", dir, "--finetune-epochs", I(epochs), "--seed", I(seed), "--latency-batch", I(c.LatencyBatch)]);
                            AddData(args, c);
                        }
                        else
                        {
                            args.AddRange(m.FromBaseline ? ["train", "--from", baselineDir] : ["train", "--model", c.Model!]);
                            args.AddRange(["--epochs", I(epochs), "--seed", I(seed), "--out", dir]);
                            AddData(args, c);
                        }
                        if (budget is not null) args.AddRange(["--" + m.BudgetFlag, budget]);
                        AddFlags(args, m.Flags);
                        cells.Add(new PlannedCell(id, m, budget, seed, epochs, dir, args));
                    }
        }
        return cells;
    }

    private static void AddData(List<string> args, ExperimentConfig c)
    {
        if (c.Dataset is not null) args.AddRange(["--dataset", c.Dataset]);
        if (c.Data is not null) args.AddRange(["--data", c.Data]);
    }

    private static void AddFlags(List<string> args, IReadOnlyList<(string Flag, string? Value)> flags)
    {
        foreach (var (flag, value) in flags)
        {
            args.Add("--" + flag);
            if (value is not null) args.Add(value);
        }
    }

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Safe(string id)
    {
        var chars = id.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
            if (!(char.IsAsciiLetterOrDigit(chars[i]) || chars[i] is '-' or '_' or '.')) chars[i] = '_';
        return new string(chars);
    }
}
