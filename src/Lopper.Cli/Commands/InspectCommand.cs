using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Models;
using Lopper.Structure;

namespace Lopper.Cli.Commands;

/// <summary>`lopper inspect`: the per-layer table of a zoo model or a saved one.</summary>
public static class InspectCommand
{
    /// <summary>Runs the command.</summary>
    public static int Run(string[] raw)
    {
        var a = new Args(raw, new HashSet<string> { "json", "help" });
        if (a.Flag("help"))
        {
            Console.WriteLine("lopper inspect (--model NAME [--input CxHxW] [--classes K] | --from DIR) [--json]");
            return 0;
        }
        ModelGraph graph;
        EffectiveCostResult? effective = null;
        var from = a.Str("from");
        if (from is not null)
        {
            // A saved model may carry masks (zeros); count what its compaction would compute.
            var model = ModelStore.Load(from);
            graph = model.Graph;
            effective = EffectiveCost.Of(model);
        }
        else
        {
            var name = a.Required("model");
            var input = a.Shape("input") ?? [1, 28, 28];
            int classes = a.Int("classes", 10, 1);
            graph = ModelZoo.Create(name, input, classes);
        }
        bool json = a.Flag("json");
        a.EnsureAllUsed();
        var layers = CostCounter.Layers(graph);
        var (p, m) = CostCounter.Totals(graph);
        if (json)
        {
            var arr = new JsonArray();
            foreach (var l in layers)
                arr.Add(new JsonObject
                {
                    ["name"] = l.Name, ["op"] = l.Op,
                    ["output_shape"] = new JsonArray(l.OutputShape.Skip(1).Select(d => (JsonNode)d).ToArray()),
                    ["params"] = l.Params, ["macs"] = l.Macs,
                });
            var o = new JsonObject
            {
                ["model"] = graph.Name,
                ["input"] = new JsonArray(graph.InputShape.Select(d => (JsonNode)d).ToArray()),
                ["classes"] = graph.Classes,
                ["params"] = p, ["macs"] = m, ["layers"] = arr,
            };
            if (effective is not null)
            {
                o["effective_params"] = effective.Params;
                o["effective_macs"] = effective.Macs;
                o["nonzero_params"] = effective.NonzeroParams;
            }
            JsonOutput.Print(o);
            return 0;
        }
        Console.WriteLine($"{"name",-28} {"op",-14} {"output",-16} {"params",12} {"MACs",14}");
        foreach (var l in layers)
            Console.WriteLine($"{l.Name,-28} {l.Op,-14} {string.Join("x", l.OutputShape.Skip(1)),-16} {l.Params,12:N0} {l.Macs,14:N0}");
        Console.WriteLine($"{"total",-28} {"",-14} {"",-16} {p,12:N0} {m,14:N0}");
        if (effective is not null && (effective.Params != p || effective.Macs != m || effective.NonzeroParams != p))
            Console.WriteLine($"{"after compaction",-28} {"",-14} {"",-16} {effective.Params,12:N0} {effective.Macs,14:N0}   ({effective.NonzeroParams:N0} nonzero)");
        return 0;
    }
}
