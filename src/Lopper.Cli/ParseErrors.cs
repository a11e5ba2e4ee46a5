using System.CommandLine;
using System.CommandLine.Parsing;

namespace Lopper.Cli;

/// <summary>
/// Turns a failed parse into the one line Lopper prints (exit 2), in the order a user fixes things: an unknown
/// command or method, a missing required flag (naming a near miss that was given), an unknown flag (with the nearest
/// known one), a repeated flag, a flag without its value, then the value errors the options report themselves.
/// </summary>
public static class ParseErrors
{
    /// <summary>What the subcommands of a command are called in "unknown ..." messages (default "command").</summary>
    public static Dictionary<Command, string> SubcommandNoun { get; } = [];

    /// <summary>The first problem of <paramref name="parse"/> as one line, or null when it parsed cleanly.</summary>
    public static string? Describe(ParseResult parse)
    {
        if (parse.Errors.Count == 0) return null;
        var result = parse.CommandResult;
        var command = result.Command;
        var unmatched = parse.UnmatchedTokens;
        var words = unmatched.Where(t => !t.StartsWith('-')).ToList();
        var flags = unmatched.Where(t => t.StartsWith('-') && t.Length > 1).ToList();
        var known = Known(result);

        if (command.Subcommands.Count > 0 && words.Count > 0 && command.Arguments.Count == 0)
        {
            string noun = SubcommandNoun.GetValueOrDefault(command, "command");
            var names = command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name).ToList();
            string w = words[0];
            var near = names.Select(n => (Name: n, Distance: Distance(w, n))).Where(x => x.Distance <= Math.Max(1, w.Length / 3))
                .OrderBy(x => x.Distance).ThenBy(x => x.Name, StringComparer.Ordinal).FirstOrDefault();
            return $"unknown {noun} '{w}' ({(near.Name is null ? "" : $"did you mean {near.Name}? ")}known: {string.Join(", ", names)})";
        }
        if (command.Subcommands.Count > 0 && command.Action is null)
        {
            string noun = SubcommandNoun.GetValueOrDefault(command, "command");
            return $"{Path(result)} needs a {noun}: {string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))} (see 'lopper {Path(result)} --help')";
        }
        foreach (var o in known.Where(o => o.Required && parse.GetResult(o) is not OptionResult { IdentifierTokenCount: > 0 }))
        {
            // A misspelt required flag would otherwise only surface as "unknown" after this error.
            string name = o.Name[2..];
            var near = flags.Select(Bare).Where(f => Distance(f, name) <= Math.Max(1, name.Length / 4)).Order(StringComparer.Ordinal).FirstOrDefault();
            return $"{o.Name} is required" + (near is null ? "" : $" (--{near} was given: a typo?)");
        }
        if (flags.Count > 0)
        {
            // The flags the command knows; a close one is most likely what was meant.
            string k = Bare(flags[0]);
            var near = known.Where(o => o.Name.StartsWith("--", StringComparison.Ordinal)).Select(o => (Name: o.Name[2..], Distance: Distance(k, o.Name[2..])))
                .Where(x => x.Distance <= Math.Max(1, k.Length / 4)).OrderBy(x => x.Distance).ThenBy(x => x.Name, StringComparer.Ordinal).FirstOrDefault();
            return $"unknown flag {flags[0]}" + (near.Name is null ? "" : $" (did you mean --{near.Name}?)");
        }
        if (words.Count > 0) return $"unexpected argument '{words[0]}'";
        foreach (var o in known)
        {
            if (parse.GetResult(o) is not OptionResult r || r.Implicit) continue;
            if (r.IdentifierTokenCount > 1) return $"{o.Name} given twice";
            if (r.Tokens.Count == 0 && o.Arity.MinimumNumberOfValues > 0) return $"{o.Name} needs a value";
        }
        // The options' own messages ("--epochs must be at least 1, got 0"), then anything else System.CommandLine found.
        var own = parse.Errors.FirstOrDefault(e => e.SymbolResult is ArgumentResult or OptionResult);
        return (own ?? parse.Errors[0]).Message;
    }

    /// <summary>The options a command accepts: its own and the recursive ones of the commands above it.</summary>
    public static List<Option> Known(CommandResult result)
    {
        var list = new List<Option>(result.Command.Options);
        for (var p = result.Parent as CommandResult; p is not null; p = p.Parent as CommandResult)
            list.AddRange(p.Command.Options.Where(o => o.Recursive));
        return list;
    }

    // "prune snacs" for the result of `lopper prune snacs`.
    private static string Path(CommandResult result)
    {
        var names = new List<string>();
        for (var r = result; r.Parent is CommandResult parent; r = parent) names.Insert(0, r.Command.Name);
        return string.Join(' ', names);
    }

    private static string Bare(string flag)
    {
        string s = flag.TrimStart('-');
        int eq = s.IndexOfAny(['=', ':']);
        return eq >= 0 ? s[..eq] : s;
    }

    // Edit distance (insertions, deletions, substitutions, adjacent swaps) between two flag names.
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
