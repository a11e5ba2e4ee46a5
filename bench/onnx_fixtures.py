#!/usr/bin/python3
"""Exports the ONNX fixtures Lopper's tests import (run with Debian's python3-torch/-torchvision/-onnx).

Each model has seeded random weights (random batch-norm statistics too, so folding them matters), 10 classes
and small widths. For each NAME the script writes NAME.onnx, NAME.input.f32 (a seeded batch of 2) and
NAME.output.f32 (PyTorch's eval-mode output for it): raw little-endian float32, shapes in manifest.json.
Usage: /usr/bin/python3 bench/onnx_fixtures.py [OUT_DIR] [--only a,b]  (default tests/Lopper.Tests/Fixtures/onnx; --only rewrites
just those fixtures and keeps the other manifest entries)
"""
import json
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


def conv_bn(cin, cout, k=3, s=1, p=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + (x if self.downsample is None else self.downsample(x)))


class SmallResNet(nn.Module):
    """ResNet-18 layout (stem conv + 3x3/2 max pool, four stages of two basic blocks) at widths 8..64."""
    def __init__(self, classes=10, w=8):
        super().__init__()
        self.conv1 = nn.Conv2d(3, w, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths = [w, 2 * w, 4 * w, 8 * w]
        layers, cin = [], w
        for i, c in enumerate(widths):
            layers.append(nn.Sequential(BasicBlock(cin, c, 1 if i == 0 else 2), BasicBlock(c, c, 1)))
            cin = c
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class SmallVgg(nn.Module):
    """VGG-style on 1x28x28, conv-relu-bn order (so batch norm stays a node), flattened with x.view(x.size(0), -1)."""
    def __init__(self, classes=10):
        super().__init__()
        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(cout)]
        self.features = nn.Sequential(*block(1, 8), *block(8, 8), nn.MaxPool2d(2, 2),
                                      *block(8, 16), *block(16, 16), nn.MaxPool2d(2, 2))
        self.classifier = nn.Sequential(nn.Linear(16 * 7 * 7, 32), nn.ReLU(inplace=True), nn.Linear(32, classes))

    def forward(self, x):
        x = self.features(x)
        x = x.view(x.size(0), -1)
        return self.classifier(x)


class SmallAlexNet(nn.Module):
    """AlexNet-style on 3x32x32 with Dropout, an explicit zero pad, average pooling and a MatMul + Add classifier."""
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 5, stride=2, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.ZeroPad2d(1), nn.Conv2d(16, 24, 3), nn.ReLU(inplace=True),
            nn.Conv2d(24, 16, 3, padding=1), nn.ReLU(inplace=True), nn.AvgPool2d(2, 2))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(16 * 3 * 3, 48), nn.ReLU(inplace=True), nn.Dropout(0.5))
        self.w = nn.Parameter(torch.randn(48, classes) * 0.1)
        self.b = nn.Parameter(torch.randn(classes) * 0.1)

    def forward(self, x):
        x = torch.flatten(self.features(x), 1)
        return torch.matmul(self.classifier(x), self.w) + self.b


class DenseBlockNet(nn.Module):
    """A DenseNet-BC block (growth 6, 4 layers) between a stem and a classifier: channel concatenation."""
    def __init__(self, classes=10, growth=6, layers=4):
        super().__init__()
        self.stem = nn.Conv2d(3, 12, 3, padding=1, bias=False)
        self.layers = nn.ModuleList()
        c = 12
        for _ in range(layers):
            self.layers.append(nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.Conv2d(c, 4 * growth, 1, bias=False),
                                             nn.BatchNorm2d(4 * growth), nn.ReLU(inplace=True), nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)))
            c += growth
        self.norm = nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = self.stem(x)
        for layer in self.layers:
            x = torch.cat([x, layer(x)], 1)
        x = F.adaptive_avg_pool2d(F.relu(self.norm(x)), 1)
        return self.fc(torch.flatten(x, 1))


class Inception(nn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, pp):
        super().__init__()
        self.b1 = conv_bn(cin, c1, 1, 1, 0)
        self.b2 = nn.Sequential(conv_bn(cin, c3r, 1, 1, 0), conv_bn(c3r, c3))
        self.b3 = nn.Sequential(conv_bn(cin, c5r, 1, 1, 0), conv_bn(c5r, c5))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), conv_bn(cin, pp, 1, 1, 0))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class SmallGoogLeNet(nn.Module):
    """GoogLeNet-style: a stem and two inception modules (four-way concat, ceil-mode pooling)."""
    def __init__(self, classes=10):
        super().__init__()
        self.stem = conv_bn(3, 16)
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inc1 = Inception(16, 8, 8, 12, 4, 4, 4)
        self.inc2 = Inception(28, 12, 8, 16, 4, 8, 8)
        self.fc = nn.Linear(44, classes)

    def forward(self, x):
        x = self.inc2(self.inc1(self.pool(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Factorized7(nn.Module):
    """Inception-v3's factorised 7x7 (torchvision's InceptionC at a small width): 1x7 and 7x1 convolutions with
    per-axis padding, a 3x3 average pool counting its zero padding, and a four-way concat."""
    def __init__(self, cin, c7, cout):
        super().__init__()
        def cbr(a, b, k, p):
            return nn.Sequential(nn.Conv2d(a, b, k, padding=p, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True))
        self.b1 = cbr(cin, cout, 1, 0)
        self.b7 = nn.Sequential(cbr(cin, c7, 1, 0), cbr(c7, c7, (1, 7), (0, 3)), cbr(c7, cout, (7, 1), (3, 0)))
        self.b77 = nn.Sequential(cbr(cin, c7, 1, 0), cbr(c7, c7, (7, 1), (3, 0)), cbr(c7, c7, (1, 7), (0, 3)),
                                 cbr(c7, c7, (7, 1), (3, 0)), cbr(c7, cout, (1, 7), (0, 3)))
        self.bp = cbr(cin, cout, 1, 0)

    def forward(self, x):
        return torch.cat([self.b1(x), self.b7(x), self.b77(x), self.bp(F.avg_pool2d(x, 3, 1, 1))], 1)


class SmallInception(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = conv_bn(3, 16, 3, 2, 1)
        self.mix = Factorized7(16, 8, 12)
        self.fc = nn.Linear(48, classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.mix(self.stem(x)), 1), 1))


def convnext_small_net():
    """torchvision's ConvNeXt at a tiny width: LayerNorm channels-last (Transpose, the LayerNorm decomposition,
    Transpose back), Linear layers on channels-last maps, exact GELU (Erf), layer scale, a LayerNorm2d before each
    downsampling and in the head. Layer scale and LayerNorm affines are randomised (their defaults, 1e-6 and the
    identity, would hide them)."""
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt
    model = ConvNeXt([CNBlockConfig(16, 24, 1), CNBlockConfig(24, None, 2)], stochastic_depth_prob=0.1, layer_scale=1e-6, num_classes=10)
    gen = torch.Generator().manual_seed(77)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layer_scale"):
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
            elif p.dim() == 1 and ("norm" in name or name.startswith("classifier.0") or ".block.2." in name or name.endswith(".0.1.weight") or name.endswith(".0.1.bias")):
                p.copy_((torch.rand(p.shape, generator=gen) + 0.5) if name.endswith("weight") else torch.randn(p.shape, generator=gen) * 0.1)
            elif p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=gen) * (2.0 / p[0].numel()) ** 0.5)
    return model


def mobilenet_v3_small():
    from torchvision.models.mobilenetv3 import MobileNetV3, _mobilenet_v3_conf
    setting, last = _mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.5, reduced_tail=True)
    return MobileNetV3(setting, last, num_classes=10)


MODELS = [
    # name, builder, input shape, opset, today's ops only
    ("resnet_small", lambda: SmallResNet(), (3, 32, 32), 11, True),
    ("vgg_small", lambda: SmallVgg(), (1, 28, 28), 16, True),
    ("alexnet_small", lambda: SmallAlexNet(), (3, 32, 32), 13, True),
    ("mobilenet_v2_x035", lambda: torchvision.models.mobilenet_v2(width_mult=0.35, num_classes=10), (3, 32, 32), 13, False),
    ("mobilenet_v3_small_x05", mobilenet_v3_small, (3, 32, 32), 13, False),
    ("shufflenet_v2_x05", lambda: torchvision.models.shufflenet_v2_x0_5(num_classes=10), (3, 32, 32), 13, False),
    ("squeezenet1_1", lambda: torchvision.models.squeezenet1_1(num_classes=10), (3, 32, 32), 13, False),
    ("densenet_block", lambda: DenseBlockNet(), (3, 32, 32), 13, False),
    ("googlenet_small", lambda: SmallGoogLeNet(), (3, 32, 32), 13, False),
    ("inception_small", lambda: SmallInception(), (3, 32, 32), 13, False),
    ("convnext_small_net", convnext_small_net, (3, 32, 32), 13, False),
]


def randomize_bn(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.2)
            m.running_var.copy_(torch.rand(c, generator=gen) * 0.8 + 0.4)
            m.weight.data.copy_(torch.rand(c, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=gen) * 0.1)


def calibrate_bn(model, shape, gen):
    """Running statistics measured on random inputs (cumulative average over 4 batches), so that in eval mode
    every layer sees normalised activations: with arbitrary statistics a deep net (MobileNetV2) saturates its
    ReLU6s and its logits stop depending on the input, and a fixture that matches such a net proves little."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for _ in range(4):
        model(torch.randn((16,) + shape, generator=gen))
    model.eval()


def main():
    args = sys.argv[1:]
    only = None
    if "--only" in args:
        k = args.index("--only")
        only = set(args[k + 1].split(","))
        del args[k:k + 2]
    out = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "tests", "Lopper.Tests", "Fixtures", "onnx")
    os.makedirs(out, exist_ok=True)
    manifest = []
    kept = {}
    if only is not None and os.path.exists(os.path.join(out, "manifest.json")):
        with open(os.path.join(out, "manifest.json")) as f:
            kept = {m["name"]: m for m in json.load(f)["models"]}
    for i, (name, build, shape, opset, today) in enumerate(MODELS):
        if only is not None and name not in only:
            if name in kept:
                manifest.append(kept[name])
            continue
        torch.manual_seed(1000 + i)
        gen = torch.Generator().manual_seed(2000 + i)
        model = build()
        with torch.no_grad():
            randomize_bn(model, gen)
            calibrate_bn(model, shape, gen)
        x = torch.randn((2,) + shape, generator=gen)
        with torch.no_grad():
            y = model(x)
        # The two images must get clearly different logits, or matching them checks nothing.
        spread = (y[0] - y[1]).abs().max() / y.abs().max()
        assert spread > 1e-2, f"{name}: logits barely depend on the input (relative spread {spread:.2e})"
        path = os.path.join(out, name + ".onnx")
        torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True)
        onnx.checker.check_model(onnx.load(path))
        x.numpy().astype("<f4").tofile(os.path.join(out, name + ".input.f32"))
        y.numpy().astype("<f4").tofile(os.path.join(out, name + ".output.f32"))
        ops = sorted({n.op_type for n in onnx.load(path).graph.node})
        manifest.append({"name": name, "input_shape": list(x.shape), "output_shape": list(y.shape), "opset": opset,
                         "todays_ops": today, "onnx_ops": ops, "params": sum(p.numel() for p in model.parameters())})
        print(f"{name}: {os.path.getsize(path)} bytes, opset {opset}, ops {ops}")
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__, "onnx": onnx.__version__,
                   "models": manifest}, f, indent=1)


if __name__ == "__main__":
    main()
