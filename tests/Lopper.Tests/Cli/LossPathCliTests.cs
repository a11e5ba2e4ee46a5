using System.Text.Json.Nodes;
using Lopper.Tests.Data;

using static Lopper.Tests.Cli.CliHarness;

namespace Lopper.Tests.Cli;

/// <summary>`lopper losspath` between trained models.</summary>
[Collection(ConsoleCollection.Name)]
public class LossPathCliTests
{
    [Fact]
    public void LineBetweenTwoRunsStartsAndEndsAtTheirLossesAndRejectsOtherGraphs()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 60, 20);
        var a = TrainTiny(dir, "lenet5", data, "a");
        var b = TrainTiny(dir, "lenet5", data, "b", epochs: 2);
        var (rc, output, stderr) = Run("losspath", "--a", a, "--b", b, "--points", "5", "--bn-batches", "0", "--json", "--threads", "1");
        Assert.True(rc == 0, stderr);
        var r = JsonNode.Parse(output)!;
        var points = r["points"]!.AsArray();
        Assert.Equal(5, points.Count);
        Assert.Equal(0.5, (double)points[2]!["t"]!, 12);
        // The end points are the two models themselves: their losses equal what eval-style measurement gives.
        Assert.Equal((double)r["loss_a"]!, (double)points[0]!["train_loss"]!, 12);
        Assert.True((double)r["endpoint_distance"]! > 0);
        Assert.Equal((double)r["endpoint_distance"]!, (double)r["path_length"]!, 4);

        // A path from a model to itself is flat.
        (rc, output, stderr) = Run("losspath", "--a", a, "--b", a, "--points", "3", "--bn-batches", "0", "--json", "--threads", "1");
        Assert.True(rc == 0, stderr);
        var flat = JsonNode.Parse(output)!["points"]!.AsArray();
        Assert.Equal((double)flat[0]!["train_loss"]!, (double)flat[1]!["train_loss"]!, 5);

        var other = TrainTiny(dir, "vgg-small", data, "other");
        (rc, _, stderr) = Run("losspath", "--a", a, "--b", other, "--points", "3", "--threads", "1");
        Assert.Equal(2, rc);
        Assert.Contains("different graphs", stderr);
    }
}
