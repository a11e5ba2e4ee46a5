using Lopper.Graph;

namespace Lopper.Models;

/// <summary>
/// LeNet-5 in its common modern form (ReLU and max pooling instead of tanh and subsampling). The first
/// convolution is padded so 28x28 MNIST digits reach the classifier at the 5x5 size of the original
/// 32x32 design.
/// </summary>
internal static class LeNet5
{
    public static ModelGraph Create(int[] inputShape, int classes)
    {
        var b = new GraphBuilder(inputShape);
        var x = b.Conv("conv1", b.Input, 6, 5, padding: 2, bias: true);
        x = b.Relu("relu1", x);
        x = b.MaxPool("pool1", x, 2, 2);
        x = b.Conv("conv2", x, 16, 5, bias: true);
        x = b.Relu("relu2", x);
        x = b.MaxPool("pool2", x, 2, 2);
        x = b.Flatten("flatten", x);
        x = b.Linear("fc1", x, 120);
        x = b.Relu("relu3", x);
        x = b.Linear("fc2", x, 84);
        x = b.Relu("relu4", x);
        b.Linear("fc3", x, classes);
        return b.Build("lenet5");
    }
}
