using System.CommandLine;
using Lopper.Methods;

namespace Lopper.Cli.Commands;

/// <summary>
/// A method's options as command-line flags, made from its options record (<see cref="OptionInfo"/>): each option is
/// --NAME with the record's help, default and choices; the values go to <see cref="OptionBinder"/> as written, so
/// conversion and range errors come from the record (and are respelt to flags), as for an experiment config.
/// </summary>
public sealed class MethodFlags
{
    private readonly (OptionInfo Info, Option Symbol)[] _flags;

    /// <summary>Flags for <paramref name="options"/>.</summary>
    public MethodFlags(IReadOnlyList<OptionInfo> options) => _flags = [.. options.Select(o => (o, Symbol(o)))];

    /// <summary>The flags, to add to a command.</summary>
    public IEnumerable<Option> Symbols => _flags.Select(f => f.Symbol);

    /// <summary>The options the user gave, for <see cref="OptionBinder"/>.</summary>
    public List<OptionValue> Read(ParseResult p)
    {
        var values = new List<OptionValue>();
        foreach (var (info, symbol) in _flags)
        {
            if (!p.Given(symbol)) continue;
            if (symbol is Option<bool> s)
            {
                if (p.GetValue(s)) values.Add(new OptionValue(info.Name, null));
            }
            else values.Add(new OptionValue(info.Name, p.GetValue((Option<string>)symbol)));
        }
        return values;
    }

    /// <summary>True when any of the flags was given.</summary>
    public bool AnyGiven(ParseResult p) => _flags.Any(f => p.Given(f.Symbol));

    /// <summary>The names of the flags, for messages ("--strength, --gate-lr").</summary>
    public IEnumerable<string> Names => _flags.Select(f => f.Symbol.Name);

    private static Option Symbol(OptionInfo o)
    {
        string help = o.Attribute.Help + (o.DefaultText is string d ? $" [default: {d}]" : "");
        if (o.IsSwitch) return new Option<bool>("--" + o.Name) { Description = help };
        var flag = new Option<string>("--" + o.Name)
        {
            Description = help,
            HelpName = o.Kind switch
            {
                OptionKind.Choice => string.Join('|', o.Choices),
                OptionKind.Map => "name=F,...",
                OptionKind.List => "N,N,...",
                OptionKind.Text => "TEXT",
                _ => o.ValueType == typeof(double) || o.ValueType == typeof(float) ? "F" : "N",
            },
        };
        if (o.Kind == OptionKind.Choice) flag.CompletionSources.Add([.. o.Choices]);
        return flag;
    }
}
