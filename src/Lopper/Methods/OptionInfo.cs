using System.Globalization;
using System.Reflection;
using System.Text;

namespace Lopper.Methods;

/// <summary>How an option takes its value.</summary>
public enum OptionKind
{
    /// <summary>A number (int, long, ulong, double, optional or not).</summary>
    Number,
    /// <summary>A word from a fixed set (an enum, or a bool written as two words).</summary>
    Choice,
    /// <summary>Free text.</summary>
    Text,
    /// <summary>A switch without a value.</summary>
    Switch,
    /// <summary>name=value pairs separated by commas.</summary>
    Map,
    /// <summary>Whole numbers separated by commas.</summary>
    List,
}

/// <summary>One user option of an options record, read from its <see cref="OptionAttribute"/> and property type.</summary>
public sealed class OptionInfo
{
    private OptionInfo(PropertyInfo property, OptionAttribute attribute, object defaults)
    {
        Property = property;
        Attribute = attribute;
        Name = attribute.Name ?? Kebab(property.Name);
        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        ValueType = type;
        Choices = type.IsEnum ? type.GetFields(BindingFlags.Public | BindingFlags.Static).Select(EnumWord).ToArray()
            : type == typeof(bool) && attribute.Words is string w ? w.Split('|') : [];
        Kind = type == typeof(bool) ? (attribute.Words is null ? OptionKind.Switch : OptionKind.Choice)
            : type.IsEnum ? OptionKind.Choice
            : type == typeof(string) ? OptionKind.Text
            : type == typeof(IReadOnlyDictionary<string, double>) ? OptionKind.Map
            : type == typeof(int[]) ? OptionKind.List
            : type == typeof(int) || type == typeof(long) || type == typeof(ulong) || type == typeof(double) || type == typeof(float) ? OptionKind.Number
            : throw new InvalidOperationException($"{property.DeclaringType?.Name}.{property.Name}: option type {type.Name} is not supported");
        if (attribute.Negated && type != typeof(bool)) throw new InvalidOperationException($"{property.Name}: only a bool option can be negated");
        Default = property.GetValue(defaults);
    }

    /// <summary>The property the option sets.</summary>
    public PropertyInfo Property { get; }

    /// <summary>Its declaration.</summary>
    public OptionAttribute Attribute { get; }

    /// <summary>Name on the command line (after "--") and in configs.</summary>
    public string Name { get; }

    /// <summary>How it takes its value.</summary>
    public OptionKind Kind { get; }

    /// <summary>The property's type without Nullable.</summary>
    public Type ValueType { get; }

    /// <summary>The accepted words of a choice.</summary>
    public IReadOnlyList<string> Choices { get; }

    /// <summary>The value of a freshly made options record (null: unset).</summary>
    public object? Default { get; }

    /// <summary>True when the option takes no value on the command line.</summary>
    public bool IsSwitch => Kind == OptionKind.Switch || Attribute.Negated;

    /// <summary>The default as a user writes it; null when unset or a switch.</summary>
    public string? DefaultText => Default switch
    {
        null => null,
        bool when IsSwitch => null,
        bool b => Choices[b ? 0 : 1],
        Enum e => EnumWord(ValueType.GetField(e.ToString())!),
        int[] list => list.Length == 0 ? null : string.Join(',', list),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        var o => o.ToString(),
    };

    /// <summary>The word for a value of this choice option (an enum member or a bool).</summary>
    public string Word(object value) => value switch
    {
        bool b => Choices[b ? 0 : 1],
        Enum e => EnumWord(ValueType.GetField(e.ToString())!),
        _ => throw new ArgumentException("not a choice value", nameof(value)),
    };

    /// <summary>Usage lines: name, value form, default, help.</summary>
    public string Usage()
    {
        string form = Kind switch
        {
            _ when IsSwitch => "",
            OptionKind.Choice => " " + string.Join('|', Choices),
            OptionKind.Map => " name=F,...",
            OptionKind.List => " N,N,...",
            OptionKind.Text => " TEXT",
            _ => ValueType == typeof(double) || ValueType == typeof(float) ? " F" : " N",
        };
        string def = DefaultText is string d ? $" (default {d})" : "";
        return $"--{Name}{form}{def}: {Attribute.Help}";
    }

    /// <summary>The options of <paramref name="optionsType"/>, in declaration order (base record first).</summary>
    public static IReadOnlyList<OptionInfo> For(Type optionsType)
    {
        lock (Cache)
        {
            if (Cache.TryGetValue(optionsType, out var list)) return list;
            var defaults = Activator.CreateInstance(optionsType) ?? throw new InvalidOperationException($"{optionsType.Name} needs a parameterless constructor");
            var props = new List<PropertyInfo>();
            for (var t = optionsType; t is not null && t != typeof(object); t = t.BaseType)
                props.InsertRange(0, t.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly));
            list = props.Where(p => p.GetCustomAttribute<OptionAttribute>() is not null)
                .Select(p => new OptionInfo(p, p.GetCustomAttribute<OptionAttribute>()!, defaults)).ToArray();
            var dup = list.GroupBy(o => o.Name).FirstOrDefault(g => g.Count() > 1);
            if (dup is not null) throw new InvalidOperationException($"{optionsType.Name}: two options are named '{dup.Key}'");
            Cache[optionsType] = list;
            return list;
        }
    }

    private static readonly Dictionary<Type, IReadOnlyList<OptionInfo>> Cache = [];

    /// <summary>
    /// Rewrites the property names a <see cref="LopperInputException"/> mentions into option names as
    /// <paramref name="spell"/> writes them (for the CLI: "--" + name); other messages come back unchanged.
    /// </summary>
    public static string Respell(LopperInputException e, Func<string, string> spell)
    {
        if (e.OptionsType is null || e.Options.Count == 0) return e.Message;
        string message = e.Message;
        foreach (var name in e.Options.Distinct())
            message = System.Text.RegularExpressions.Regex.Replace(message, $@"\b{name}\b", spell(NameOf(e.OptionsType, name)));
        return message;
    }

    /// <summary>The option name of property <paramref name="property"/> of <paramref name="type"/>: its <see cref="OptionAttribute.Name"/>, else its kebab-case name.</summary>
    public static string NameOf(Type type, string property)
        => type.GetProperty(property)?.GetCustomAttribute<OptionAttribute>()?.Name ?? Kebab(property);

    /// <summary>"TargetParams" → "target-params".</summary>
    public static string Kebab(string name)
    {
        var sb = new StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c) && i > 0 && (char.IsLower(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1])))) sb.Append('-');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    private static string EnumWord(FieldInfo f) => f.GetCustomAttribute<OptionWordAttribute>()?.Word ?? Kebab(f.Name);
}
