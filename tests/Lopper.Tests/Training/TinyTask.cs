using Lopper.Data;
using Lopper.Graph;
using Lopper.Tensors;
using Lopper.Training;

namespace Lopper.Tests.Training;

/// <summary>A small learnable problem and model so trainer behaviour can be tested in milliseconds.</summary>
internal static class TinyTask
{
    /// <summary>Images 1x8x8 whose class (0..2) decides which band of rows is bright, plus noise.</summary>
    public static Dataset Data(int count, ulong seed)
    {
        var rng = new Rng(seed);
        var pixels = new byte[count * 64];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int label = i % 3;
            labels[i] = label;
            for (int p = 0; p < 64; p++)
            {
                int row = p / 8; // rows, because horizontal flips must not change the class
                bool bright = row / 3 == label;
                pixels[i * 64 + p] = (byte)Math.Clamp((bright ? 170 : 60) + rng.NextNormal() * 40, 0, 255);
            }
        }
        return new Dataset("tiny", "train", pixels, labels, 1, 8, 8, 3);
    }

    /// <summary>conv-bn-relu-pool-dropout-linear: every kind of state a checkpoint must carry.</summary>
    public static ModelGraph Graph()
    {
        var b = new GraphBuilder([1, 8, 8]);
        var x = b.Conv("conv1", b.Input, 4, 3, padding: 1);
        x = b.BatchNorm("bn1", x);
        x = b.Relu("relu1", x);
        x = b.MaxPool("pool1", x, 2, 2);
        x = b.Flatten("flatten", x);
        x = b.Dropout("drop", x, 0.2);
        b.Linear("fc", x, 3);
        return b.Build("tiny");
    }

    public static TrainConfig Config(int epochs) => new()
    {
        Epochs = epochs, BatchSize = 16, Lr = 0.05f, Momentum = 0.9f, WeightDecay = 1e-4f, Seed = 7, CropPadding = 1, Flip = true,
    };

    public static Trainer NewTrainer(TrainConfig config, string? outDir, Dataset train, Dataset test)
    {
        var model = new Model(Graph(), config.Seed);
        var (mean, std) = train.ChannelStats();
        var trainLoader = new DataLoader(train, config.BatchSize, config.Seed, shuffle: true, mean, std, config.CropPadding, config.Flip);
        var testLoader = new DataLoader(test, 32, config.Seed, shuffle: false, mean, std);
        return new Trainer(model, config, trainLoader, testLoader, outDir);
    }

    public static float[] Weights(Model m) => m.Parameters.SelectMany(p => p.Value.Data).ToArray();
}
