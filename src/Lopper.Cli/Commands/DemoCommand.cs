namespace Lopper.Cli.Commands;

/// <summary>
/// `lopper demo`: the README's first command. Trains LeNet-5 on Fashion-MNIST, prunes half of its MACs
/// away with L1 filter pruning, fine-tunes, reloads the slimmed model from disk and evaluates it, and
/// prints its per-layer costs: the whole flow in about a minute.
/// </summary>
public static class DemoCommand
{
    /// <summary>Runs the command.</summary>
    public static int Run(string[] raw)
    {
        var a = new Args(raw, new HashSet<string> { "help" });
        if (a.Flag("help"))
        {
            Console.WriteLine("lopper demo [--out DIR] [--epochs N] [--threads N] [--data DIR]");
            return 0;
        }
        string outDir = a.Str("out", "runs/demo");
        int epochs = a.Int("epochs", 5, 1);
        string? threads = a.Str("threads");
        string? data = a.Str("data");
        a.EnsureAllUsed();
        var common = new List<string>();
        if (threads is not null) common.AddRange(["--threads", threads]);
        string trained = Path.Combine(outDir, "lenet5");
        string pruned = Path.Combine(outDir, "lenet5-l1-50");
        Console.WriteLine($"== 1/4 train LeNet-5 on Fashion-MNIST for {epochs} epochs -> {trained}");
        var train = new List<string> { "--model", "lenet5", "--epochs", epochs.ToString(), "--out", trained };
        if (data is not null) train.AddRange(["--data", data]);
        int rc = TrainCommand.Run([.. train, .. common]);
        if (rc != 0) return rc;
        Console.WriteLine($"\n== 2/4 prune to 50% of MACs with L1 filter pruning, fine-tune 2 epochs -> {pruned}");
        rc = PruneCommand.Run(["l1", "--from", trained, "--out", pruned, "--target-macs", "0.5", "--finetune-epochs", "2", .. common]);
        if (rc != 0) return rc;
        Console.WriteLine($"\n== 3/4 reload {pruned} from disk and evaluate");
        rc = EvalCommand.Run(["--from", pruned, .. common]);
        if (rc != 0) return rc;
        Console.WriteLine($"\n== 4/4 per-layer parameters and MACs of the slimmed model");
        return InspectCommand.Run(["--from", pruned]);
    }
}
