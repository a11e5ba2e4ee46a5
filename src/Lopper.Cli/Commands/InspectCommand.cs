using System.CommandLine;
using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Models;
using Lopper.Structure;

namespace Lopper.Cli.Commands;

/// <summary>`lopper inspect`: the per-layer table of a zoo model or a saved one.</summary>
public static class InspectCommand
{
    private static readonly Option<string?> Model = Flags.Text("--model", "NAME", "a zoo model", ModelZoo.Names);
    private static readonly Option<int[]?> Input = Flags.Shape("--input", "input shape of the zoo model [default: 1x28x28]");
    private static readonly Option<int> Classes = Flags.Int("--classes", "classes of the zoo model", 10, 1, valueName: "K");
    private static readonly Option<string?> From = Flags.Text("--from", "DIR", "a saved model folder (instead of --model)");
    private static readonly Option<bool> Json = Flags.Json();

    /// <summary>The command.</summary>
    public static Command Create()
    {
        var c = new Command("inspect", "per-layer output shapes, parameters and MACs of a zoo model or a saved one") { Model, Input, Classes, From, Json };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult parse)
    {
        ModelGraph graph;
        EffectiveCostResult? effective = null;
        var from = parse.GetValue(From);
        if (from is not null)
        {
            if (parse.Given(Model) || parse.Given(Input) || parse.Given(Classes)) throw new LopperInputException("--from DIR brings its own model, input and classes; drop --model, --input and --classes");
            // A saved model may carry masks (zeros); count what its compaction would compute.
            var model = ModelStore.Load(from);
            graph = model.Graph;
            effective = EffectiveCost.Of(model);
        }
        else
        {
            var name = parse.GetValue(Model) ?? throw new LopperInputException("--model is required (or --from DIR)");
            graph = ModelZoo.Create(name, parse.ValueOrNull(Input) ?? [1, 28, 28], parse.GetValue(Classes));
        }
        bool json = parse.GetValue(Json);
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
