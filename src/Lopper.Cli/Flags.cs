using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Lopper.Cli;

/// <summary>
/// Makes the command line's options: System.CommandLine symbols whose values are parsed and range-checked at parse
/// time with Lopper's one-line messages ("--epochs must be at least 1, got 0"), so a bad value is exit 2 before a
/// command reads a file or allocates. Defaults shown in the help are the ones the command uses.
/// </summary>
public static class Flags
{
    /// <summary>A switch (present = true).</summary>
    public static Option<bool> Switch(string name, string help) => new(name) { Description = help };

    /// <summary>The <c>--json</c> switch every command has.</summary>
    public static Option<bool> Json() => Switch("--json", "print the result as one JSON object on stdout (errors too)");

    /// <summary>A text value; null when absent.</summary>
    public static Option<string?> Text(string name, string valueName, string help, IEnumerable<string>? completions = null)
    {
        var o = new Option<string?>(name) { Description = help, HelpName = valueName };
        if (completions is not null) o.CompletionSources.Add(_ => completions);
        return o;
    }

    /// <summary>A text value the command cannot run without.</summary>
    public static Option<string> Required(string name, string valueName, string help, IEnumerable<string>? completions = null)
    {
        var o = new Option<string>(name) { Description = help, HelpName = valueName, Required = true };
        if (completions is not null) o.CompletionSources.Add(_ => completions);
        return o;
    }

    /// <summary>One word of <paramref name="choices"/>; the first is the default.</summary>
    public static Option<string> Choice(string name, string help, params string[] choices)
    {
        var o = new Option<string>(name)
        {
            Description = help, HelpName = string.Join('|', choices), DefaultValueFactory = _ => choices[0],
            CustomParser = r => One(r) is string s && !choices.Contains(s) ? Error(r, $"{name} must be {Or(choices)}, got '{s}'", choices[0]) : One(r) ?? choices[0],
        };
        o.CompletionSources.Add(choices);
        return o;
    }

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>] with a default.</summary>
    public static Option<int> Int(string name, string help, int fallback, int min = int.MinValue, int max = int.MaxValue, string valueName = "N")
        => new(name) { Description = help, HelpName = valueName, DefaultValueFactory = _ => fallback, CustomParser = r => ParseInt(r, name, min, max) ?? fallback };

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>]; null when absent (the command decides the default).</summary>
    public static Option<int?> OptionalInt(string name, string help, int min = int.MinValue, int max = int.MaxValue, string valueName = "N")
        => new(name) { Description = help, HelpName = valueName, CustomParser = r => ParseInt(r, name, min, max) };

    /// <summary>A finite number in [<paramref name="min"/>, <paramref name="max"/>] with a default.</summary>
    public static Option<double> Real(string name, string help, double fallback, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
        => new(name) { Description = help, HelpName = "F", DefaultValueFactory = _ => fallback, CustomParser = r => ParseReal(r, name, min, max) ?? fallback };

    /// <summary>A finite number in [<paramref name="min"/>, <paramref name="max"/>]; null when absent (no default, or the library's).</summary>
    public static Option<double?> OptionalReal(string name, string help, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
        => new(name) { Description = help, HelpName = "F", CustomParser = r => ParseReal(r, name, min, max) };

    /// <summary>
    /// A number stored as a 32-bit float: finite as a float too (1e39 is finite as a double, infinite as a float).
    /// Null when absent, so a command can keep a per-model default.
    /// </summary>
    public static Option<float?> Single(string name, string help, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
        => new(name)
        {
            Description = help, HelpName = "F",
            CustomParser = r =>
            {
                if (ParseReal(r, name, min, max) is not double v) return null;
                if (float.IsFinite((float)v)) return (float)v;
                r.AddError($"{name} must fit a 32-bit float (|x| < 3.4e38), got {v}");
                return null;
            },
        };

    /// <summary>Comma-separated integers; null when absent.</summary>
    public static Option<int[]?> Ints(string name, string valueName, string help)
        => new(name)
        {
            Description = help, HelpName = valueName, Arity = ArgumentArity.ExactlyOne,
            CustomParser = r =>
            {
                if (One(r) is not string s) return null;
                var parts = s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var v = new int[parts.Length];
                for (int i = 0; i < parts.Length; i++)
                    if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out v[i])) return Fail<int[]>(r, $"{name} must be comma-separated integers, got '{s}'");
                return v;
            },
        };

    /// <summary>Comma-separated numbers, each in [<paramref name="min"/>, <paramref name="max"/>) (or ] when <paramref name="maxInclusive"/>); null when absent.</summary>
    public static Option<double[]?> Reals(string name, string valueName, string help, double min, double max, bool maxInclusive)
        => new(name)
        {
            Description = help, HelpName = valueName, Arity = ArgumentArity.ExactlyOne,
            CustomParser = r =>
            {
                if (One(r) is not string s) return null;
                var parts = s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (parts.Length == 0) return Fail<double[]>(r, $"{name} needs at least one number");
                var v = new double[parts.Length];
                for (int i = 0; i < parts.Length; i++)
                {
                    if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out v[i]) || !double.IsFinite(v[i]))
                        return Fail<double[]>(r, $"{name} must be comma-separated numbers, got '{s}'");
                    if (v[i] < min || v[i] > max || !maxInclusive && v[i] == max)
                        return Fail<double[]>(r, $"{name} values must be in [{min}, {max}{(maxInclusive ? "]" : ")")}, got {v[i]}");
                }
                return v;
            },
        };

    /// <summary>Comma-separated finite numbers in 0..1 pixel units (per-channel mean or standard deviation); null when absent.</summary>
    public static Option<float[]?> Floats(string name, string help)
        => new(name)
        {
            Description = help, HelpName = "F,F,...", Arity = ArgumentArity.ExactlyOne,
            CustomParser = r =>
            {
                if (One(r) is not string s) return null;
                var parts = s.Split(',', StringSplitOptions.TrimEntries);
                var v = new float[parts.Length];
                for (int i = 0; i < parts.Length; i++)
                    if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out v[i]) || !float.IsFinite(v[i]))
                        return Fail<float[]>(r, $"{name} must be comma-separated numbers (0..1 pixel units), got '{s}'");
                return v;
            },
        };

    /// <summary>A shape like 3x32x32 (<paramref name="valueName"/> names its parts); null when absent.</summary>
    public static Option<int[]?> Shape(string name, string help, string valueName = "CxHxW")
        => new(name)
        {
            Description = help, HelpName = valueName, Arity = ArgumentArity.ExactlyOne,
            CustomParser = r =>
            {
                if (One(r) is not string s) return null;
                var parts = s.Split('x');
                var v = new int[parts.Length];
                for (int i = 0; i < parts.Length; i++)
                    if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out v[i]) || v[i] < 1 || parts.Length != 3)
                        return Fail<int[]>(r, $"{name} must look like {valueName} (e.g. {(valueName == "CxHxW" ? "3x32x32" : "64x576x256")}), got '{s}'");
                return v;
            },
        };

    /// <summary><c>--threads</c>: at most the machine's cores (more only make every parallel region wait on the scheduler); null when absent.</summary>
    public static Option<int?> Threads(string help = "threads (default: all cores)") => OptionalInt("--threads", help, 1, Environment.ProcessorCount);

    /// <summary>
    /// The value of a list or shape option, or null when it was not given (System.CommandLine's own default for an
    /// absent array option is an empty array, which would read as "given, empty").
    /// </summary>
    public static T? ValueOrNull<T>(this ParseResult p, Option<T?> option) where T : class => p.Given(option) ? p.GetValue(option) : null;

    /// <summary>True when the user gave <paramref name="option"/> (not a default).</summary>
    public static bool Given(this ParseResult p, Option option) => p.GetResult(option) is { Implicit: false };

    private static int? ParseInt(ArgumentResult r, string name, int min, int max)
    {
        if (One(r) is not string s) return null;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v)) return Error<int>(r, $"{name} must be an integer, got '{s}'");
        if (v < min) return Error<int>(r, $"{name} must be at least {min}, got {v}");
        if (v > max) return Error<int>(r, $"{name} must be at most {max}, got {v}");
        return v;
    }

    private static double? ParseReal(ArgumentResult r, string name, double min, double max)
    {
        if (One(r) is not string s) return null;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            return Error<double>(r, $"{name} must be a number, got '{s}'");
        if (v < min || v > max) return Error<double>(r, $"{name} must be in [{min}, {max}], got {v}");
        return v;
    }

    // The option's one value; a repeated option is reported as such before its values are looked at.
    private static string? One(ArgumentResult r) => r.Tokens.Count == 0 ? null : r.Tokens[^1].Value;

    private static T Error<T>(ArgumentResult r, string message, T value)
    {
        r.AddError(message);
        return value;
    }

    private static T? Fail<T>(ArgumentResult r, string message) where T : class
    {
        r.AddError(message);
        return null;
    }

    private static T? Error<T>(ArgumentResult r, string message) where T : struct
    {
        r.AddError(message);
        return null;
    }

    private static string Or(IReadOnlyList<string> words) => words.Count == 1 ? words[0] : $"{string.Join(", ", words.Take(words.Count - 1))} or {words[^1]}";
}
