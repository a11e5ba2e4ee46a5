#!/usr/bin/python3
"""PyTorch definitions of Lopper's modern zoo models (CIFAR-sized variants), module for module as
src/Lopper/Models builds them, so parameter and MAC counts (and node names) can be checked against
PyTorch. Prints the counts the tests assert; also used by the benchmark's PyTorch peer.

MACs count convolutions (out*oh*ow*(in/groups)*k*k) and linear layers (in*out), as Lopper's cost counter does.

Usage: /usr/bin/python3 bench/zoo_reference.py [--json] [--state-dicts FILE]
  --state-dicts FILE  also writes every model's state-dict names and shapes (3x32x32, 10 classes; without
                      num_batches_tracked) to FILE: the zoo test fixture tests/Lopper.Tests/Fixtures/zoo_state_dicts.json
"""
import json
import sys

import torch
from torch import nn


def _divisible(v, divisor=8, min_value=None):
    # The channel rounding of the MobileNet papers' reference code: nearest multiple of 8, never below 90%.
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def conv_bn(cin, cout, k, stride=1, groups=1, act=nn.ReLU6):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- MobileNetV2
class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers = []
        if expand != 1:
            layers.append(conv_bn(cin, hidden, 1))
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


# (expansion t, channels c, repeats n, stride s) of Sandler et al. 2018, table 2; the CIFAR variant keeps
# the stem at stride 1 and the second stage at stride 1, so 32x32 ends at 4x4 (as 224 ends at 7x7).
MBV2_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


class MobileNetV2(nn.Module):
    def __init__(self, in_ch=3, classes=10, width=1.0):
        super().__init__()
        c = _divisible(32 * width)
        last = _divisible(1280 * max(1.0, width))
        feats = [conv_bn(in_ch, c, 3, 1)]
        for t, ch, n, s in MBV2_SETTINGS:
            out = _divisible(ch * width)
            for i in range(n):
                feats.append(InvertedResidual(c, out, s if i == 0 else 1, t))
                c = out
        feats.append(conv_bn(c, last, 1))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, classes))

    def forward(self, x):
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)


# ---------------------------------------------------------------- MobileNetV3-small
class SqueezeExcite(nn.Module):
    def __init__(self, ch, squeeze, act=nn.ReLU, gate=nn.Hardsigmoid):
        super().__init__()
        self.fc1 = nn.Conv2d(ch, squeeze, 1)
        self.act = act()
        self.fc2 = nn.Conv2d(squeeze, ch, 1)
        self.gate = gate()

    def forward(self, x):
        s = nn.functional.adaptive_avg_pool2d(x, 1)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))


class Bneck(nn.Module):
    def __init__(self, cin, k, exp, cout, se, act, stride):
        super().__init__()
        self.use_res = stride == 1 and cin == cout
        layers = []
        if exp != cin:
            layers.append(conv_bn(cin, exp, 1, act=act))
        layers.append(conv_bn(exp, exp, k, stride, groups=exp, act=act))
        if se:
            layers.append(SqueezeExcite(exp, _divisible(exp // 4)))
        layers.append(conv_bn(exp, cout, 1, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.block(x) if self.use_res else self.block(x)


# Howard et al. 2019, table 2 (kernel, expansion, out, SE, activation, stride); CIFAR variant: stem and
# first block at stride 1.
MBV3S_SETTINGS = [(3, 16, 16, True, "RE", 1), (3, 72, 24, False, "RE", 2), (3, 88, 24, False, "RE", 1),
                  (5, 96, 40, True, "HS", 2), (5, 240, 40, True, "HS", 1), (5, 240, 40, True, "HS", 1),
                  (5, 120, 48, True, "HS", 1), (5, 144, 48, True, "HS", 1), (5, 288, 96, True, "HS", 2),
                  (5, 576, 96, True, "HS", 1), (5, 576, 96, True, "HS", 1)]


class MobileNetV3Small(nn.Module):
    def __init__(self, in_ch=3, classes=10):
        super().__init__()
        feats = [conv_bn(in_ch, 16, 3, 1, act=nn.Hardswish)]
        c = 16
        for k, exp, out, se, act, s in MBV3S_SETTINGS:
            feats.append(Bneck(c, k, exp, out, se, nn.ReLU if act == "RE" else nn.Hardswish, s))
            c = out
        feats.append(conv_bn(c, 576, 1, act=nn.Hardswish))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Linear(576, 1024), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(1024, classes))

    def forward(self, x):
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)


# ---------------------------------------------------------------- ShuffleNetV2 x0.5
def channel_shuffle(x, groups):
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleUnit(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride = stride
        branch = cout // 2
        if stride > 1:
            self.branch1 = nn.Sequential(
                nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
                nn.Conv2d(cin, branch, 1, bias=False), nn.BatchNorm2d(branch), nn.ReLU())
        b_in = cin if stride > 1 else branch
        self.branch2 = nn.Sequential(
            nn.Conv2d(b_in, branch, 1, bias=False), nn.BatchNorm2d(branch), nn.ReLU(),
            nn.Conv2d(branch, branch, 3, stride, 1, groups=branch, bias=False), nn.BatchNorm2d(branch),
            nn.Conv2d(branch, branch, 1, bias=False), nn.BatchNorm2d(branch), nn.ReLU())

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    # Ma et al. 2018, table 5, 0.5x: stages of 48/96/192 channels, 4/8/4 units; CIFAR variant: stem at
    # stride 1 and no max-pool.
    def __init__(self, in_ch=3, classes=10, stages=(48, 96, 192), repeats=(4, 8, 4), last=1024):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(in_ch, 24, 3, 1, 1, bias=False), nn.BatchNorm2d(24), nn.ReLU())
        c = 24
        for i, (out, n) in enumerate(zip(stages, repeats)):
            units = [ShuffleUnit(c, out, 2)] + [ShuffleUnit(out, out, 1) for _ in range(n - 1)]
            setattr(self, f"stage{i + 2}", nn.Sequential(*units))
            c = out
        self.conv5 = nn.Sequential(nn.Conv2d(c, last, 1, bias=False), nn.BatchNorm2d(last), nn.ReLU())
        self.fc = nn.Linear(last, classes)

    def forward(self, x):
        x = self.conv5(self.stage4(self.stage3(self.stage2(self.conv1(x)))))
        return self.fc(x.mean([2, 3]))


# ---------------------------------------------------------------- DenseNet-BC-40 (k = 12)
class DenseLayer(nn.Module):
    def __init__(self, cin, growth, bn_size=4):
        super().__init__()
        self.norm1, self.relu1 = nn.BatchNorm2d(cin), nn.ReLU()
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2, self.relu2 = nn.BatchNorm2d(bn_size * growth), nn.ReLU()
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, 1, 1, bias=False)

    def forward(self, x):
        y = self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))
        return torch.cat((x, y), 1)


class Transition(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm, self.relu = nn.BatchNorm2d(cin), nn.ReLU()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.pool = nn.AvgPool2d(2, 2)

    def forward(self, x):
        return self.pool(self.conv(self.relu(self.norm(x))))


class DenseNetBC(nn.Module):
    # Huang et al. 2017, DenseNet-BC with L = 40, k = 12: three dense blocks of (40 - 4) / 6 = 6
    # bottleneck layers, compression 0.5, a 2k-channel 3x3 stem (the paper's CIFAR set-up).
    def __init__(self, in_ch=3, classes=10, growth=12, layers=6):
        super().__init__()
        c = 2 * growth
        self.conv0 = nn.Conv2d(in_ch, c, 3, 1, 1, bias=False)
        for b in range(3):
            block = nn.Sequential(*[DenseLayer(c + i * growth, growth) for i in range(layers)])
            setattr(self, f"block{b + 1}", block)
            c += layers * growth
            if b < 2:
                setattr(self, f"trans{b + 1}", Transition(c, c // 2))
                c //= 2
        self.norm5, self.relu5 = nn.BatchNorm2d(c), nn.ReLU()
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = self.conv0(x)
        x = self.trans1(self.block1(x))
        x = self.trans2(self.block2(x))
        x = self.relu5(self.norm5(self.block3(x)))
        return self.fc(nn.functional.adaptive_avg_pool2d(x, 1).flatten(1))


# ---------------------------------------------------------------- EfficientNet-B0
class MBConv(nn.Module):
    def __init__(self, cin, cout, k, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers = []
        if expand != 1:
            layers.append(conv_bn(cin, hidden, 1, act=nn.SiLU))
        layers.append(conv_bn(hidden, hidden, k, stride, groups=hidden, act=nn.SiLU))
        # Tan and Le 2019: the squeeze width is a quarter of the block's input channels.
        layers.append(SqueezeExcite(hidden, max(1, cin // 4), act=nn.SiLU, gate=nn.Sigmoid))
        layers.append(conv_bn(hidden, cout, 1, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.block(x) if self.use_res else self.block(x)


# (expansion, kernel, stride, channels, repeats) of Tan and Le 2019, table 1; CIFAR variant: stem and the
# second stage at stride 1.
EFFB0_SETTINGS = [(1, 3, 1, 16, 1), (6, 3, 1, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
                  (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]


class EfficientNetB0(nn.Module):
    def __init__(self, in_ch=3, classes=10):
        super().__init__()
        feats = [conv_bn(in_ch, 32, 3, 1, act=nn.SiLU)]
        c = 32
        for e, k, s, out, n in EFFB0_SETTINGS:
            for i in range(n):
                feats.append(MBConv(c, out, k, s if i == 0 else 1, e))
                c = out
        feats.append(conv_bn(c, 1280, 1, act=nn.SiLU))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))

    def forward(self, x):
        x = self.features(x)
        return self.classifier(nn.functional.adaptive_avg_pool2d(x, 1).flatten(1))


MODELS = {
    "mobilenetv2": MobileNetV2,
    "mobilenetv3-small": MobileNetV3Small,
    "shufflenetv2-0.5": ShuffleNetV2,
    "densenet40": DenseNetBC,
    "efficientnet-b0": EfficientNetB0,
}


def count(model, shape):
    macs = 0

    def conv_hook(m, inp, out):
        nonlocal macs
        macs += out.shape[1] * out.shape[2] * out.shape[3] * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def linear_hook(m, inp, out):
        nonlocal macs
        macs += m.in_features * m.out_features

    hooks = [m.register_forward_hook(conv_hook if isinstance(m, nn.Conv2d) else linear_hook)
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *shape))
    for h in hooks:
        h.remove()
    params = sum(p.numel() for p in model.parameters())
    return params, macs


if __name__ == "__main__":
    rows = []
    for name, cls in MODELS.items():
        for shape in [(1, 28, 28), (3, 32, 32)]:
            params, macs = count(cls(in_ch=shape[0], classes=10), shape)
            rows.append({"model": name, "input": "x".join(map(str, shape)), "params": params, "macs": macs})
    if "--state-dicts" in sys.argv:
        out = {}
        for name, cls in MODELS.items():
            sd = cls(in_ch=3, classes=10).state_dict()
            out[name] = {k: list(v.shape) for k, v in sd.items() if not k.endswith("num_batches_tracked")}
        with open(sys.argv[sys.argv.index("--state-dicts") + 1], "w") as f:
            # One parameter a line, so a diff of the fixture reads as a diff of the architecture.
            models = []
            for name, sd in out.items():
                lines = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in sd.items())
                models.append(f" {json.dumps(name)}: {{\n{lines}\n }}")
            f.write("{\n" + ",\n".join(models) + "\n}\n")
    if "--json" in sys.argv:
        print(json.dumps(rows, indent=1))
    else:
        for r in rows:
            print(f'{r["model"]:20s} {r["input"]:8s} params {r["params"]:>10,d} MACs {r["macs"]:>13,d}')
