using System.CommandLine;
using Lopper;
using Lopper.Cli;

return Cli.Run(args);

namespace Lopper.Cli
{
    /// <summary>Entry point: parses with <see cref="CommandLine"/>, runs the command and maps failures to exit codes (0 ok, 1 failed, 2 bad input).</summary>
    public static class Cli
    {
        /// <summary>Runs the CLI with the given arguments and returns the exit code.</summary>
        public static int Run(string[] args)
        {
            var root = CommandLine.Root;
            // Only help, --version and [suggest] write to the invocation's output; commands write to the console.
            var informational = new StringWriter();
            var invocation = new InvocationConfiguration { Output = informational, Error = Console.Error, EnableDefaultExceptionHandler = false };
            int Invoke(ParseResult parse)
            {
                int code = parse.Invoke(invocation);
                Console.Out.Write(CommandLine.Informational(informational.ToString()));
                return code;
            }
            if (args.Length == 0)
            {
                Invoke(root.Parse(["--help"]));
                return 2;
            }
            var parse = root.Parse(args);
            // Callers that asked for --json parse stdout, so a failure is a JSON object there too (and one line on stderr).
            bool json = args.Contains("--json");
            string name = parse.CommandResult.Command == root ? "" : CommandLine.TopLevel(parse.CommandResult).Name;
            int Fail(int code, string message)
            {
                message = message.ReplaceLineEndings(" ");
                Console.Error.WriteLine($"lopper{(name.Length > 0 ? " " + name : "")}: {message}");
                if (json) JsonOutput.PrintError(name.Length > 0 ? name : null, message, code);
                return code;
            }
            try
            {
                // Help, version and [suggest] clear the parse errors; any other error is one line, not System.CommandLine's help dump.
                if (parse.Action is System.CommandLine.Invocation.ParseErrorAction) return Fail(2, ParseErrors.Describe(parse) ?? "invalid command line");
                return Invoke(parse);
            }
            catch (LopperInputException e)
            {
                // The library names options as its records do (TargetParams); here they are flags (--target-params).
                return Fail(2, Lopper.Methods.OptionInfo.Respell(e, o => "--" + o));
            }
            catch (Exception e) when (e is LopperRunException or IOException or UnauthorizedAccessException)
            {
                return Fail(1, e.Message);
            }
            catch (Exception e) when (Environment.GetEnvironmentVariable("LOPPER_DEBUG") is null)
            {
                // A bug, not the user's fault: one line, and the way to get the full trace.
                return Fail(1, $"internal error: {e.GetType().Name}: {e.Message} (set LOPPER_DEBUG=1 for the stack trace)");
            }
        }
    }
}
