namespace Lopper.Cli.Commands;

/// <summary>
/// `lopper demo`: the README's first command. Trains LeNet-5 on Fashion-MNIST, then evaluates the
/// saved model from disk and prints its per-layer costs, so a newcomer sees the whole flow.
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
        if (data is not null) common.AddRange(["--data", data]);
        string model = Path.Combine(outDir, "lenet5");
        Console.WriteLine($"== 1/3 train LeNet-5 on Fashion-MNIST for {epochs} epochs -> {model}");
        int rc = TrainCommand.Run(["--model", "lenet5", "--epochs", epochs.ToString(), "--out", model, .. common]);
        if (rc != 0) return rc;
        Console.WriteLine($"\n== 2/3 reload {model} from disk and evaluate");
        rc = EvalCommand.Run(["--from", model, .. common]);
        if (rc != 0) return rc;
        Console.WriteLine($"\n== 3/3 per-layer parameters and MACs");
        return InspectCommand.Run(["--from", model]);
    }
}
