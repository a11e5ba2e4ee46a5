using Lopper.Pruning.Snacs;
using Lopper.Runs;
using Lopper.Tests.Cli;
using Lopper.Tests.Data;
using static Lopper.Tests.Cli.CliHarness;

namespace Lopper.Tests.Runs;

/// <summary>The README's C# example, compiled and run here; the README must show exactly these lines.</summary>
[Collection(ConsoleCollection.Name)]
public class ReadmeExampleTests
{
    [Fact]
    public void TheReadmeExamplePrunesWithSnacsFineTunesSavesAndPrints()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 200, 40);
        string SourceDir = TrainTiny(dir, "lenet5", data), OutDir = dir.File("lenet5-snacs50");
        var printed = new StringWriter();
        var stdout = Console.Out;
        Console.SetOut(printed);
        try
        {
            // README example begin
            var source = RunFolder.Load(SourceDir);
            var result = PrunePipeline.Run(new PruneRequest
            {
                Source = source,
                Method = new SnacsPruner(new SnacsOptions { TargetParams = 0.5 }),
                FinetuneEpochs = 2,
                BnRecalibrateBatches = 20,
            });
            result.Save(OutDir);
            Console.WriteLine($"SNACS: {result.Record.AccuracyFinetuned:P2} with {result.Record.ParamsKept:P0} of the parameters");
            // README example end
        }
        finally
        {
            Console.SetOut(stdout);
        }
        var saved = RunFolder.Load(OutDir);
        Assert.Equal("snacs", saved.Record["method"]!.GetValue<string>());
        Assert.InRange((double)saved.Record["params_after"]! / (double)saved.Record["params_before"]!, 0.45, 0.5);
        Assert.Equal(2, (int)saved.Record["finetune_epochs"]!);
        Assert.StartsWith("SNACS: ", printed.ToString());

        // The README shows the same lines (indentation aside) after a line that names the two folders.
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root!.FullName, "Lopper.slnx"))) root = root.Parent;
        var self = File.ReadAllLines(Path.Combine(root.FullName, "tests", "Lopper.Tests", "Runs", "ReadmeExampleTests.cs"));
        int begin = Array.FindIndex(self, l => l.Trim() == "// README example begin"), end = Array.FindIndex(self, l => l.Trim() == "// README example end");
        var lines = self[(begin + 1)..end];
        int indent = lines[0].Length - lines[0].TrimStart().Length;
        var example = string.Join('\n', lines.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart()));
        var readme = File.ReadAllText(Path.Combine(root.FullName, "README.md")).ReplaceLineEndings("\n");
        Assert.Contains("const string SourceDir = \"runs/demo/lenet5\", OutDir = \"runs/lenet5-snacs50\";\n" + example + "\n", readme);
    }
}
