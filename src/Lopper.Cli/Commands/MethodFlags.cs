using System.Text;
using Lopper.Methods;

namespace Lopper.Cli.Commands;

/// <summary>A method's options as command-line flags: each option of its record is --NAME, as the registry declares it.</summary>
public static class MethodFlags
{
    /// <summary>The flags of <paramref name="options"/> that take no value.</summary>
    public static IEnumerable<string> Switches(IEnumerable<OptionInfo> options) => options.Where(o => o.IsSwitch).Select(o => o.Name);

    /// <summary>The options present among the flags (marks them as read), for <see cref="OptionBinder"/>.</summary>
    public static List<OptionValue> Read(Args a, IReadOnlyList<OptionInfo> options)
    {
        var values = new List<OptionValue>();
        foreach (var o in options)
        {
            if (!a.Has(o.Name)) continue;
            if (o.IsSwitch)
            {
                if (a.Flag(o.Name)) values.Add(new OptionValue(o.Name, null));
            }
            else values.Add(new OptionValue(o.Name, a.Str(o.Name)));
        }
        return values;
    }

    /// <summary>True when any of the options is among the flags (marks them as read).</summary>
    public static bool AnyGiven(Args a, IReadOnlyList<OptionInfo> options)
    {
        bool any = false;
        foreach (var o in options) any |= a.Has(o.Name);
        return any;
    }

    /// <summary>
    /// Usage lines for every method of <paramref name="registry"/>: name, summary, then its options; options a
    /// method shares with one listed before it (the same record) are named, not repeated.
    /// </summary>
    public static string Usage(MethodRegistry registry)
    {
        var sb = new StringBuilder();
        var firstWith = new Dictionary<Type, string>();
        foreach (var m in registry.Methods)
        {
            sb.Append("  ").Append(m.Name).Append(": ").AppendLine(m.Summary);
            foreach (var group in m.Options.GroupBy(o => o.Property.DeclaringType!))
            {
                if (firstWith.TryGetValue(group.Key, out var first))
                {
                    sb.Append("      as ").Append(first).Append(": ").AppendLine(string.Join(" ", group.Select(o => "--" + o.Name)));
                    continue;
                }
                firstWith[group.Key] = m.Name;
                foreach (var o in group) sb.Append("      ").AppendLine(o.Usage());
            }
        }
        return sb.ToString().TrimEnd();
    }
}
