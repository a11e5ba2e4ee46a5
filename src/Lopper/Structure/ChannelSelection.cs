namespace Lopper.Structure;

/// <summary>Which channels of which groups survive. Groups not listed keep every channel.</summary>
public sealed class ChannelSelection
{
    private readonly Dictionary<int, int[]> _kept = new();

    /// <summary>Group ids with a selection.</summary>
    public IEnumerable<int> Groups => _kept.Keys;

    /// <summary>Keeps only <paramref name="kept"/> (sorted, distinct, at least one) of group <paramref name="group"/>.</summary>
    public void Keep(PruningGroup group, IEnumerable<int> kept)
    {
        if (!group.Prunable) throw new InvalidOperationException($"group {group.Name} cannot be pruned ({group.Locked})");
        var k = kept.Distinct().Order().ToArray();
        if (k.Length == 0) throw new InvalidOperationException($"group {group.Name}: at least one channel must survive");
        if (k[0] < 0 || k[^1] >= group.Channels) throw new ArgumentOutOfRangeException(nameof(kept), $"group {group.Name} has {group.Channels} channels");
        _kept[group.Id] = k;
    }

    /// <summary>The kept channels of a group, or null when it keeps all.</summary>
    public int[]? Kept(int group) => _kept.GetValueOrDefault(group);

    /// <summary>The removed channels of a group (empty when it keeps all).</summary>
    public int[] Removed(PruningGroup group)
    {
        var k = Kept(group.Id);
        if (k is null) return [];
        var set = new HashSet<int>(k);
        return Enumerable.Range(0, group.Channels).Where(c => !set.Contains(c)).ToArray();
    }

    /// <summary>Channels kept in a group.</summary>
    public int KeptCount(PruningGroup group) => Kept(group.Id)?.Length ?? group.Channels;
}
