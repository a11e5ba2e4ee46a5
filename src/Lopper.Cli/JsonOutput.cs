using System.Text.Json.Nodes;
using Lopper.Io;

namespace Lopper.Cli;

/// <summary>Prints a command's --json result; a non-finite number becomes null with a warning on stderr, never a crash.</summary>
public static class JsonOutput
{
    /// <summary>Writes <paramref name="node"/> to stdout as indented JSON.</summary>
    public static void Print(JsonNode node)
    {
        Console.WriteLine(JsonText.Write(node, out var nulled));
        if (nulled.Count > 0)
            Console.Error.WriteLine($"lopper: warning: {nulled.Count} non-finite value(s) written as null: {string.Join(", ", nulled.Take(5))}{(nulled.Count > 5 ? ", ..." : "")}");
    }

    /// <summary>A failure as a JSON object on stdout (for --json callers, who parse stdout); <paramref name="command"/> is null when no command was recognised.</summary>
    public static void PrintError(string? command, string message, int exitCode) =>
        Console.WriteLine(new JsonObject { ["command"] = command, ["error"] = message, ["exit_code"] = exitCode }.ToJsonString());
}
