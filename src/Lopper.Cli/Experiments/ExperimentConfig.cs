namespace Lopper.Cli.Experiments;

/// <summary>Where the dense model the prune cells start from comes from.</summary>
public sealed record BaselineSpec
{
    /// <summary>An existing run folder, or null when the experiment trains the baseline.</summary>
    public string? From { get; init; }
    /// <summary>Training epochs (when trained).</summary>
    public int Epochs { get; init; }
    /// <summary>Training seed (when trained).</summary>
    public long Seed { get; init; }
    /// <summary>Extra `lopper train` flags (when trained).</summary>
    public IReadOnlyList<(string Flag, string? Value)> Flags { get; init; } = [];
}

/// <summary>One entry of methods: in the config: a method with its budgets and flags.</summary>
public sealed record MethodSpec
{
    /// <summary>Name of the entry: the legend label and the start of its cell ids.</summary>
    public required string Name { get; init; }
    /// <summary>"prune" (`lopper prune METHOD` from the baseline) or "train" (`lopper train`, e.g. gRDA, from scratch or the baseline).</summary>
    public required string Kind { get; init; }
    /// <summary>The prune method passed to `lopper prune` (prune kind), or a label such as grda (train kind).</summary>
    public required string Method { get; init; }
    /// <summary>The flag each budget is passed as (without dashes), or null when the entry has no budgets.</summary>
    public string? BudgetFlag { get; init; }
    /// <summary>Budget values as written (each is one cell per seed and fine-tune length); empty for one cell without a budget flag.</summary>
    public IReadOnlyList<string> Budgets { get; init; } = [];
    /// <summary>Method-specific flags passed through unchanged.</summary>
    public IReadOnlyList<(string Flag, string? Value)> Flags { get; init; } = [];
    /// <summary>Fine-tune lengths (prune kind), overriding the experiment's.</summary>
    public IReadOnlyList<int> FinetuneEpochs { get; init; } = [];
    /// <summary>Training epochs (train kind).</summary>
    public int Epochs { get; init; }
    /// <summary>Train kind: start from the baseline's trained weights (`lopper train --from`) instead of the zoo model's initialisation.</summary>
    public bool FromBaseline { get; init; }
}

/// <summary>A parsed experiment config (see README, "Experiments and reports", for the format).</summary>
public sealed record ExperimentConfig
{
    /// <summary>The config file.</summary>
    public required string File { get; init; }
    /// <summary>Experiment name.</summary>
    public required string Name { get; init; }
    /// <summary>Output folder (the CLI's --out overrides it).</summary>
    public required string Out { get; init; }
    /// <summary>Zoo model name (needed when the baseline is trained or there are train cells).</summary>
    public string? Model { get; init; }
    /// <summary>Dataset name, or null for the source run's / lopper's default.</summary>
    public string? Dataset { get; init; }
    /// <summary>Dataset folder, or null.</summary>
    public string? Data { get; init; }
    /// <summary>Threads per run (0: all cores; the CLI's --threads overrides it).</summary>
    public int Threads { get; init; }
    /// <summary>Seeds: every cell runs once per seed.</summary>
    public required IReadOnlyList<int> Seeds { get; init; }
    /// <summary>Fine-tune lengths for prune cells.</summary>
    public required IReadOnlyList<int> FinetuneEpochs { get; init; }
    /// <summary>Batch size of the latency measurements.</summary>
    public int LatencyBatch { get; init; } = 128;
    /// <summary>The baseline.</summary>
    public required BaselineSpec Baseline { get; init; }
    /// <summary>The method entries, in report order.</summary>
    public required IReadOnlyList<MethodSpec> Methods { get; init; }

    private const string TopFields = "name, out, model, dataset, data, threads, seeds, finetune_epochs, latency_batch, baseline, methods";
    private const string MethodFields = "name, method, kind, start, budget_flag, budgets, flags, finetune_epochs, epochs";

    /// <summary>Reads and validates a config file; every error names the file and the field.</summary>
    public static ExperimentConfig Load(string file)
    {
        var y = YamlFields.Load(file);
        string name = y.Required("name");
        CheckName(y, "name", name);
        string? model = y.Str("model");
        var baselineFields = y.Map("baseline") ?? throw y.Error("baseline", "is required (baseline: {from: DIR} or baseline: {train: {epochs: N}})");
        var baseline = ReadBaseline(baselineFields, model);
        var methodList = y.Maps("methods") ?? throw y.Error("methods", "is required (a list of method entries)");
        if (methodList.Count == 0) throw y.Error("methods", "must list at least one method");
        var finetune = y.Ints("finetune_epochs", [0], 0);
        var methods = new List<MethodSpec>();
        foreach (var m in methodList) methods.Add(ReadMethod(m, model, baseline));
        foreach (var g in methods.GroupBy(m => m.Name))
            if (g.Count() > 1) throw y.Error("methods", $"has two entries named '{g.Key}' (names must be unique; they label the report)");
        var cfg = new ExperimentConfig
        {
            File = file,
            Name = name,
            Out = y.Str("out") ?? Path.Combine("runs", "experiments", name),
            Model = model,
            Dataset = y.Str("dataset"),
            Data = y.Str("data"),
            Threads = y.Int("threads", 0, 0),
            Seeds = y.Ints("seeds", [0], 0),
            FinetuneEpochs = finetune,
            LatencyBatch = y.Int("latency_batch", 128, 1),
            Baseline = baseline,
            Methods = methods,
        };
        y.EnsureAllRead(TopFields);
        return cfg;
    }

    private static BaselineSpec ReadBaseline(YamlFields b, string? model)
    {
        string? from = b.Str("from");
        var train = b.Map("train");
        if ((from is null) == (train is null)) throw b.Error(from is null ? "train" : "from", "give exactly one of baseline.from (an existing run folder) or baseline.train");
        BaselineSpec spec;
        if (train is not null)
        {
            if (model is null) throw new LopperInputException($"{b.File}: field 'model' is required when the experiment trains its baseline");
            spec = new BaselineSpec { Epochs = train.Int("epochs", 1, 1), Seed = train.Int("seed", 0, 0), Flags = CheckFlags(train, "flags", "model", "epochs", "seed", "out", "threads", "resume") };
            train.EnsureAllRead("epochs, seed, flags");
        }
        else spec = new BaselineSpec { From = from };
        b.EnsureAllRead("from, train");
        return spec;
    }

    private static MethodSpec ReadMethod(YamlFields m, string? model, BaselineSpec baseline)
    {
        string name = m.Required("name");
        CheckName(m, "name", name);
        string kind = m.Str("kind") ?? "prune";
        if (kind is not ("prune" or "train")) throw m.Error("kind", $"must be prune or train, got '{kind}'");
        string method = m.Str("method") ?? name;
        var budgets = m.List("budgets")?.Select(n => n.Value ?? "").ToList() ?? [];
        string? budgetFlag = m.Str("budget_flag");
        if (budgetFlag is not null && budgetFlag.StartsWith('-')) throw m.Error("budget_flag", "must be the flag name without dashes");
        if (budgets.Count > 0 && budgetFlag is null && (kind != "prune" || (budgetFlag = Lopper.Methods.PruningMethods.Registry.Find(method)?.BudgetOption) is null))
            throw m.Error("budget_flag", $"is needed: method '{method}' has no default budget flag (e.g. budget_flag: target-macs)");
        if (budgets.Count == 0 && budgetFlag is not null && m.Has("budget_flag")) throw m.Error("budgets", "is needed when budget_flag is given");
        if (budgets.Count == 0) budgetFlag = null;
        if (budgets.Any(string.IsNullOrWhiteSpace)) throw m.Error("budgets", "must not contain empty values");
        if (budgets.Distinct().Count() != budgets.Count) throw m.Error("budgets", "lists a value twice");
        MethodSpec spec;
        string start = m.Str("start") ?? "scratch";
        if (start is not ("scratch" or "baseline")) throw m.Error("start", $"must be scratch or baseline, got '{start}'");
        if (kind == "train")
        {
            bool fromBaseline = start == "baseline";
            if (model is null && !fromBaseline) throw new LopperInputException($"{m.File}: field 'model' is required for train cells ({m.At}kind: train)");
            if (m.Has("finetune_epochs")) throw m.Error("finetune_epochs", "applies to prune entries only (train entries use epochs)");
            int epochs = m.Int("epochs", baseline.From is null ? baseline.Epochs : 0, 1);
            if (epochs == 0) throw m.Error("epochs", "is required for train entries when the baseline is not trained by the experiment");
            spec = new MethodSpec
            {
                Name = name, Kind = kind, Method = method, BudgetFlag = budgetFlag, Budgets = budgets, Epochs = epochs, FromBaseline = fromBaseline,
                Flags = CheckFlags(m, "flags", "model", "from", "epochs", "seed", "out", "threads", "resume", "dataset", "data", budgetFlag),
            };
        }
        else
        {
            if (m.Has("epochs")) throw m.Error("epochs", "applies to train entries only (prune entries use finetune_epochs)");
            if (m.Has("start")) throw m.Error("start", "applies to train entries only (prune entries always start from the baseline)");
            spec = new MethodSpec
            {
                Name = name, Kind = kind, Method = method, BudgetFlag = budgetFlag, Budgets = budgets,
                FinetuneEpochs = m.Has("finetune_epochs") ? m.Ints("finetune_epochs", [], 0) : [],
                Flags = CheckFlags(m, "flags", "from", "out", "seed", "finetune-epochs", "threads", "latency-batch", "dataset", "data", budgetFlag),
            };
        }
        m.EnsureAllRead(MethodFields);
        return spec;
    }

    // Flags the runner sets itself may not be passed again (the command would reject the duplicate anyway, later and less clearly).
    private static IReadOnlyList<(string Flag, string? Value)> CheckFlags(YamlFields f, string key, params string?[] reserved)
    {
        var flags = f.Flags(key);
        foreach (var (flag, _) in flags)
            if (reserved.Contains(flag)) throw f.Error($"{key}.{flag}", "is set by the experiment itself; use the config's own field for it");
        return flags;
    }

    private static void CheckName(YamlFields f, string key, string name)
    {
        // "." and ".." (and hidden names) would make the folder the parent, the current one, or invisible.
        if (name.Length == 0 || name[0] == '.')
            throw f.Error(key, $"must not be empty or start with '.' (it names folders), got '{name}'");
        foreach (char c in name)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                throw f.Error(key, $"may use letters, digits, '-', '_' and '.' only (it names folders), got '{name}'");
    }
}
