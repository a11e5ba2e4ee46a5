namespace Lopper.Io;

/// <summary>
/// Writes a whole folder as one unit: its files are written and flushed under a temporary name, and the
/// folder is switched in by renames, so a reader sees the complete old folder or the complete new one.
/// </summary>
public static class AtomicDirectory
{
    /// <summary>Prefix of temporary folders (".tmp-NAME-PID") and of replaced ones (".old-NAME-PID").</summary>
    public const string TempPrefix = ".tmp-", OldPrefix = ".old-";

    /// <summary>
    /// Creates <paramref name="path"/> with the files <paramref name="fill"/> writes into the folder it is
    /// given. An existing folder of that name is replaced: it is renamed aside, the new one renamed in, and the
    /// old one deleted; <see cref="Recover"/> puts it back if a kill falls between the two renames.
    /// </summary>
    public static void Write(string path, Action<string> fill)
    {
        path = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
        string parent = Path.GetDirectoryName(path)!, name = Path.GetFileName(path);
        Directory.CreateDirectory(parent);
        string tmp = Path.Combine(parent, $"{TempPrefix}{name}-{Environment.ProcessId}");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        try
        {
            fill(tmp);
            AtomicFile.SyncDirectory(tmp);
            if (Directory.Exists(path))
            {
                string old = Path.Combine(parent, $"{OldPrefix}{name}-{Environment.ProcessId}");
                if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
                Directory.Move(path, old);
                Directory.Move(tmp, path);
                AtomicFile.SyncDirectory(parent);
                Directory.Delete(old, recursive: true);
            }
            else
            {
                Directory.Move(tmp, path);
                AtomicFile.SyncDirectory(parent);
            }
        }
        finally
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        }
    }

    /// <summary>
    /// After a kill: deletes unfinished temporary folders in <paramref name="parent"/> and restores a replaced
    /// folder whose successor never arrived (or deletes it when the successor is in place). Call only while
    /// holding the run's <see cref="RunLock"/>.
    /// </summary>
    public static void Recover(string parent)
    {
        if (!Directory.Exists(parent)) return;
        foreach (var d in Directory.GetDirectories(parent, TempPrefix + "*")) Directory.Delete(d, recursive: true);
        foreach (var d in Directory.GetDirectories(parent, OldPrefix + "*"))
        {
            string rest = Path.GetFileName(d)[OldPrefix.Length..];
            int dash = rest.LastIndexOf('-');
            string target = Path.Combine(parent, dash > 0 ? rest[..dash] : rest);
            if (Directory.Exists(target)) Directory.Delete(d, recursive: true);
            else Directory.Move(d, target);
        }
        AtomicFile.CleanStale(parent);
    }
}
