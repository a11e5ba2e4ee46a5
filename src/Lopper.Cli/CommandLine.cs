using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Reflection;
using System.Text.RegularExpressions;
using Lopper.Cli.Commands;

namespace Lopper.Cli;

/// <summary>
/// The command tree: every command and flag of <c>lopper</c>, declared once as System.CommandLine symbols, from which
/// the help, the <c>[suggest]</c> completions and the parse come.
/// </summary>
public static class CommandLine
{
    private static readonly Lazy<RootCommand> Built = new(Build);

    /// <summary>Widest help line, fixed so the help (and docs/cli.md, made from it) is the same on every terminal.</summary>
    public const int HelpWidth = 110;

    /// <summary>The root command (built once per process).</summary>
    public static RootCommand Root => Built.Value;

    /// <summary>The top-level command a parse ended in (for <c>lopper prune snacs</c>: prune).</summary>
    public static Command TopLevel(System.CommandLine.Parsing.CommandResult result)
    {
        var r = result;
        while (r.Parent is System.CommandLine.Parsing.CommandResult p && p.Parent is not null) r = p;
        return r.Command;
    }

    private static RootCommand Build()
    {
        var root = new RootCommand("lopper: train and slim convolutional networks");
        root.Options.Clear();
        var help = new HelpOption("--help", "-h") { Description = "show this help" };
        ((HelpAction)help.Action!).MaxWidth = HelpWidth;
        root.Options.Add(help);
        root.Options.Add(new VersionOption { Description = "print the version", Action = new VersionAction() });
        Command[] commands =
        [
            TrainCommand.Create(), EvalCommand.Create(), InspectCommand.Create(), PruneCommand.Create(), FinetuneCommand.Create(),
            ImportCommand.Create(), ExportCommand.Create(), PredictCommand.Create(), ExportImagesCommand.Create(), OnnxCheckCommand.Create(),
            LatencyCommand.Create(), LossPathCommand.Create(), BenchCommand.Create(), ExperimentCommand.Create(), ReportCommand.Create(),
            DemoCommand.Create(), CompletionCommand.Create(),
        ];
        foreach (var c in commands) root.Subcommands.Add(c);
        return root;
    }

    /// <summary>
    /// Help, version and completions as the user sees them: System.CommandLine names the root after the running
    /// executable (the test host, or lopper), and the help's usage line always says "lopper"; no line ends in spaces.
    /// </summary>
    public static string Informational(string text)
    {
        string exe = RootCommand.ExecutableName;
        if (exe != "lopper") text = Regex.Replace(text, $@"(?m)^(Usage:\r?\n  ){Regex.Escape(exe)}(?= |\r?$)", "${1}lopper");
        // The help wraps descriptions leaving a space at each broken line's end.
        return Regex.Replace(text, @"[ \t]+(?=\r?$)", "", RegexOptions.Multiline);
    }

    /// <summary><c>lopper --version</c>: the version and the informational version (with the commit).</summary>
    private sealed class VersionAction : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            var info = typeof(Cli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            parseResult.InvocationConfiguration.Output.WriteLine($"lopper {info.Split('+')[0]} ({info})");
            return 0;
        }
    }
}
