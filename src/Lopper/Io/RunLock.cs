using System.Diagnostics;

namespace Lopper.Io;

/// <summary>
/// One writer per output folder: a ".lock" file holding the owner's process id. A second writer is
/// refused (<see cref="LopperInputException"/>, exit 2); a lock whose process is gone (killed) is taken over.
/// Disposing releases it.
/// </summary>
public sealed class RunLock : IDisposable
{
    /// <summary>Name of the lock file inside the folder.</summary>
    public const string FileName = ".lock";

    private readonly string _path;
    private readonly string? _createdDir;
    private bool _released;

    private RunLock(string path, string? createdDir)
    {
        _path = path;
        _createdDir = createdDir;
    }

    /// <summary>Takes the lock of <paramref name="dir"/> (created if missing) or throws naming the owner.</summary>
    public static RunLock Acquire(string dir, string flag = "run folder")
    {
        // A folder made only to hold the lock goes again if the run leaves nothing in it (a run that failed
        // on bad input must not leave a model folder behind).
        string? created = Directory.Exists(dir) ? null : dir;
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, FileName);
        for (int attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                using (var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read))
                {
                    var b = System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n");
                    fs.Write(b);
                    fs.Flush(flushToDisk: true);
                }
                return new RunLock(path, created);
            }
            catch (IOException) when (File.Exists(path))
            {
                int? owner = ReadOwner(path);
                if (owner is { } pid && IsAlive(pid))
                    throw new LopperInputException($"{flag} {dir}: another lopper process (pid {pid}) is writing there (lock file {path}); wait for it or choose another folder");
                // The owner is gone: the lock is stale. Remove it and try again (a racing taker-over loses at CreateNew).
                try { File.Delete(path); } catch (IOException) { }
            }
        }
        throw new LopperInputException($"{flag} {dir}: could not take the lock file {path}");
    }

    private static int? ReadOwner(string path)
    {
        try
        {
            var text = File.ReadAllText(path).Trim();
            return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int pid) && pid > 0 ? pid : null;
        }
        catch (IOException) { return null; }
    }

    private static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    /// <summary>Releases the lock.</summary>
    public void Dispose()
    {
        if (_released) return;
        _released = true;
        try { File.Delete(_path); } catch (IOException) { }
        try
        {
            if (_createdDir is not null && !Directory.EnumerateFileSystemEntries(_createdDir).Any()) Directory.Delete(_createdDir);
        }
        catch (IOException) { }
    }
}
