using System.Globalization;

namespace Lopper.Cli;

/// <summary>
/// Command-line flags: "--name value" or "--name" for switches. Every flag a command reads is
/// recorded, and <see cref="EnsureAllUsed"/> rejects the rest, so a typo is an error, not a silent default.
/// </summary>
public sealed class Args
{
    private readonly Dictionary<string, string?> _flags = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    /// <summary>Arguments that are not flags, in order.</summary>
    public List<string> Positional { get; } = new();

    /// <summary>Parses raw arguments (after the command name).</summary>
    public Args(IEnumerable<string> raw, IReadOnlySet<string> switches)
    {
        var list = raw.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            var a = list[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a == "--") { Positional.Add(a); continue; }
            string name = a[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            else if (!switches.Contains(name))
            {
                if (i + 1 >= list.Count) throw new LopperInputException($"--{name} needs a value");
                value = list[++i];
            }
            if (!_flags.TryAdd(name, value)) throw new LopperInputException($"--{name} given twice");
        }
    }

    /// <summary>True when a flag is present.</summary>
    public bool Has(string name) { _used.Add(name); return _flags.ContainsKey(name); }

    /// <summary>A switch (present = true).</summary>
    public bool Flag(string name)
    {
        _used.Add(name);
        if (!_flags.TryGetValue(name, out var v)) return false;
        return v is null || v is "true" or "1" ? true : v is "false" or "0" ? false : throw new LopperInputException($"--{name} takes no value (got '{v}')");
    }

    /// <summary>A string flag.</summary>
    public string? Str(string name) { _used.Add(name); return _flags.GetValueOrDefault(name); }

    /// <summary>A string flag with a default.</summary>
    public string Str(string name, string fallback) => Str(name) ?? fallback;

    /// <summary>A required string flag.</summary>
    public string Required(string name)
    {
        if (Str(name) is string v) return v;
        // A misspelt required flag would otherwise only surface as "unknown" after this error.
        var near = _flags.Keys.Where(k => !_used.Contains(k) && Distance(k, name) <= Math.Max(1, name.Length / 4)).Order(StringComparer.Ordinal).FirstOrDefault();
        throw new LopperInputException($"--{name} is required" + (near is null ? "" : $" (--{near} was given: a typo?)"));
    }

    /// <summary>An integer flag.</summary>
    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        var s = Str(name);
        if (s is null) return fallback;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v)) throw new LopperInputException($"--{name} must be an integer, got '{s}'");
        if (v < min) throw new LopperInputException($"--{name} must be at least {min}, got {v}");
        if (v > max) throw new LopperInputException($"--{name} must be at most {max}, got {v}");
        return v;
    }

    /// <summary>A flag stored as a 32-bit float: finite as a float too (1e39 is finite as a double, infinite as a float).</summary>
    public float Single(string name, double fallback, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        double v = Real(name, fallback, min, max);
        if (!float.IsFinite((float)v)) throw new LopperInputException($"--{name} must fit a 32-bit float (|x| < 3.4e38), got {v}");
        return (float)v;
    }

    /// <summary>A floating-point flag.</summary>
    public double Real(string name, double fallback, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        var s = Str(name);
        if (s is null) return fallback;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            throw new LopperInputException($"--{name} must be a number, got '{s}'");
        if (v < min || v > max) throw new LopperInputException($"--{name} must be in [{min}, {max}], got {v}");
        return v;
    }

    /// <summary>A comma-separated integer list.</summary>
    public int[] Ints(string name, int[] fallback)
    {
        var s = Str(name);
        if (s is null) return fallback;
        var parts = s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var r = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out r[i])) throw new LopperInputException($"--{name} must be comma-separated integers, got '{s}'");
        return r;
    }

    /// <summary>A comma-separated list of numbers, each in [<paramref name="min"/>, <paramref name="max"/>) (or ] when <paramref name="maxInclusive"/>).</summary>
    public double[] Reals(string name, double[] fallback, double min, double max, bool maxInclusive)
    {
        var s = Str(name);
        if (s is null) return fallback;
        var parts = s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) throw new LopperInputException($"--{name} needs at least one number");
        var r = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out r[i]) || !double.IsFinite(r[i]))
                throw new LopperInputException($"--{name} must be comma-separated numbers, got '{s}'");
            if (r[i] < min || r[i] > max || !maxInclusive && r[i] == max)
                throw new LopperInputException($"--{name} values must be in [{min}, {max}{(maxInclusive ? "]" : ")")}, got {r[i]}");
        }
        return r;
    }

    /// <summary>A shape like 3x32x32.</summary>
    public int[]? Shape(string name)
    {
        var s = Str(name);
        if (s is null) return null;
        var parts = s.Split('x');
        var r = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out r[i]) || r[i] < 1)
                throw new LopperInputException($"--{name} must look like CxHxW (e.g. 3x32x32), got '{s}'");
        if (r.Length != 3) throw new LopperInputException($"--{name} must look like CxHxW (e.g. 3x32x32), got '{s}'");
        return r;
    }

    /// <summary>Fails on any flag no one asked about, or on stray positional arguments.</summary>
    public void EnsureAllUsed(int positionalAllowed = 0)
    {
        foreach (var k in _flags.Keys)
            if (!_used.Contains(k))
            {
                // The flags the command asked about are the ones it knows; a close one is most likely what was meant.
                var near = _used.Select(u => (Flag: u, Distance: Distance(k, u))).Where(x => x.Distance <= Math.Max(1, k.Length / 4)).OrderBy(x => x.Distance).ThenBy(x => x.Flag, StringComparer.Ordinal).FirstOrDefault();
                throw new LopperInputException($"unknown flag --{k}" + (near.Flag is null ? "" : $" (did you mean --{near.Flag}?)"));
            }
        if (Positional.Count > positionalAllowed) throw new LopperInputException($"unexpected argument '{Positional[positionalAllowed]}'");
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
