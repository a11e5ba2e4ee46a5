using System.Globalization;

namespace Lopper.Methods;

/// <summary>One option as a user gave it: its name and its text (null for a switch).</summary>
/// <param name="Name">The option name (<see cref="OptionInfo.Name"/>).</param>
/// <param name="Value">The value as written, or null for a switch.</param>
public readonly record struct OptionValue(string Name, string? Value);

/// <summary>
/// Builds an options record from option names and texts (command-line flags, experiment config keys), converting
/// each by its property type. Range checks stay in the record's own Validate; errors here name the property.
/// </summary>
public static class OptionBinder
{
    /// <summary>
    /// Starts from a fresh <paramref name="optionsType"/> record and sets every given option; an unknown or repeated
    /// name, a missing value or a value of the wrong form throws <see cref="LopperInputException"/>.
    /// </summary>
    public static object Bind(Type optionsType, IEnumerable<OptionValue> values, string owner, object? start = null)
    {
        var options = OptionInfo.For(optionsType);
        // Records are immutable to callers; setting init-only properties on a private copy keeps the start untouched.
        var target = start is null ? Activator.CreateInstance(optionsType)! : optionsType.GetMethod("<Clone>$")!.Invoke(start, null)!;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, text) in values)
        {
            var o = options.FirstOrDefault(x => x.Name == name)
                ?? throw new LopperInputException($"{owner} has no option '{name}' (its options: {string.Join(", ", options.Select(x => x.Name))})");
            if (!seen.Add(name)) throw Bad(optionsType, o, "is given twice");
            if (o.IsSwitch)
            {
                if (text is not null) throw Bad(optionsType, o, $"is a switch and takes no value, got '{text}'");
                o.Property.SetValue(target, !o.Attribute.Negated);
                continue;
            }
            if (text is null) throw Bad(optionsType, o, "needs a value");
            o.Property.SetValue(target, Parse(optionsType, o, text));
        }
        return target;
    }

    /// <summary>Typed form of <see cref="Bind(Type, IEnumerable{OptionValue}, string, object)"/>.</summary>
    public static T Bind<T>(IEnumerable<OptionValue> values, string owner, T? start = null) where T : class => (T)Bind(typeof(T), values, owner, start);

    /// <summary>
    /// The options of a record that differ from a fresh one, as a user would write them: the record's canonical
    /// description (experiment cells compare it to tell whether a finished cell ran with the same settings).
    /// </summary>
    public static IReadOnlyList<OptionValue> Describe(object options)
    {
        var list = new List<OptionValue>();
        foreach (var o in OptionInfo.For(options.GetType()))
        {
            var v = o.Property.GetValue(options);
            if (Equals(v, o.Default) || (v is int[] a && o.Default is int[] a0 && a.SequenceEqual(a0)) || (v is IReadOnlyDictionary<string, double> d && o.Default is IReadOnlyDictionary<string, double> d0 && d.Count == d0.Count && !d.Except(d0).Any())) continue;
            if (v is null) continue;
            string? text = v switch
            {
                bool when o.IsSwitch => null, // differs from its default, so it is the switch's own value
                bool or Enum => o.Word(v),
                int[] ints => string.Join(',', ints),
                IReadOnlyDictionary<string, double> map => string.Join(',', map.Select(kv => kv.Key + "=" + kv.Value.ToString("R", CultureInfo.InvariantCulture))),
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => v.ToString(),
            };
            list.Add(new OptionValue(o.Name, text));
        }
        return list;
    }

    private static object Parse(Type owner, OptionInfo o, string text)
    {
        var t = o.ValueType;
        switch (o.Kind)
        {
            case OptionKind.Text:
                return text;
            case OptionKind.Choice:
                int i = Array.IndexOf(o.Choices.ToArray(), text);
                if (i < 0) throw Bad(owner, o, $"must be {string.Join(", ", o.Choices.Take(o.Choices.Count - 1))} or {o.Choices[^1]}, got '{text}'");
                return t == typeof(bool) ? i == 0 : Enum.ToObject(t, t.GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)[i].GetValue(null)!);
            case OptionKind.Map:
                return ParseMap(owner, o, text);
            case OptionKind.List:
                var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var list = new int[parts.Length];
                for (int k = 0; k < parts.Length; k++)
                    if (!int.TryParse(parts[k], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out list[k])) throw Bad(owner, o, $"must be comma-separated whole numbers, got '{text}'");
                return list;
        }
        const NumberStyles Int = NumberStyles.AllowLeadingSign;
        var c = CultureInfo.InvariantCulture;
        if (t == typeof(int) && int.TryParse(text, Int, c, out int n)) return n;
        if (t == typeof(long) && long.TryParse(text, Int, c, out long l)) return l;
        if (t == typeof(ulong) && ulong.TryParse(text, NumberStyles.None, c, out ulong u)) return u;
        if (t == typeof(double) && double.TryParse(text, NumberStyles.Float, c, out double d) && double.IsFinite(d)) return d;
        if (t == typeof(float) && float.TryParse(text, NumberStyles.Float, c, out float f) && float.IsFinite(f)) return f;
        throw Bad(owner, o, t == typeof(double) || t == typeof(float) ? $"must be a finite number, got '{text}'" : t == typeof(ulong) ? $"must be a whole number >= 0, got '{text}'" : $"must be a whole number, got '{text}'");
    }

    private static Dictionary<string, double> ParseMap(Type owner, OptionInfo o, string text)
    {
        var map = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = item.LastIndexOf('=');
            if (eq <= 0 || !double.TryParse(item[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double r) || !double.IsFinite(r))
                throw Bad(owner, o, $"expects name=number pairs, got '{item}'");
            if (!map.TryAdd(item[..eq], r)) throw Bad(owner, o, $"names {item[..eq]} twice");
        }
        if (map.Count == 0) throw Bad(owner, o, "needs at least one name=number pair");
        return map;
    }

    private static LopperInputException Bad(Type owner, OptionInfo o, string what)
        => LopperInputException.ForOptions(owner, $"{o.Property.Name} {what}", o.Property.Name);
}
