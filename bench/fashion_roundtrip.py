#!/usr/bin/python3
"""PyTorch half of the ONNX round trip on Fashion-MNIST (Debian python3-torch; data from dataset-fashion-mnist).

Trains a small VGG-style net (seeded) on the first N training images for E epochs with the normalisation
Lopper's data loader uses (per-channel mean and population std of the whole training split, applied to
v/255 in float32), reports its test accuracy as a count of correct images, and exports it to ONNX.
Then, with Lopper:
  lopper import OUT.onnx --out DIR --mean M --std S      (M, S as printed)
  lopper eval --from DIR --dataset fashion-mnist           (the same count of correct test images)
Usage: /usr/bin/python3 bench/fashion_roundtrip.py OUT.onnx [--train N] [--epochs E] [--data DIR]
"""
import argparse
import gzip
import os

import numpy as np
import torch
import torch.nn as nn


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*block(1, 16), nn.MaxPool2d(2), *block(16, 32), nn.MaxPool2d(2), *block(32, 64))
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64 * 7 * 7, 10))

    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.view(x.size(0), -1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=10000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    torch.manual_seed(0)
    xtr = idx(os.path.join(a.data, "train-images-idx3-ubyte.gz"))
    ytr = idx(os.path.join(a.data, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    xte = idx(os.path.join(a.data, "t10k-images-idx3-ubyte.gz"))
    yte = idx(os.path.join(a.data, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    v = xtr.astype(np.float64) / 255.0
    mean, std = np.float32(v.mean()), np.float32(v.std())
    lut = (np.arange(256, dtype=np.float32) / np.float32(255) - mean) / std
    norm = lambda x: torch.from_numpy(lut[x].astype(np.float32)[:, None, :, :])
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    xs, ys = norm(xtr[:a.train]), torch.from_numpy(ytr[:a.train])
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(len(xs))
        for i in range(0, len(xs), 128):
            b = perm[i:i + 128]
            opt.zero_grad()
            nn.functional.cross_entropy(model(xs[b]), ys[b]).backward()
            opt.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        xt = norm(xte)
        for i in range(0, len(xt), 500):
            correct += int((model(xt[i:i + 500]).argmax(1).numpy() == yte[i:i + 500]).sum())
    torch.onnx.export(model, xs[:1], a.out, opset_version=13, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    print(f"pytorch test accuracy {correct}/{len(yte)} = {100.0 * correct / len(yte):.2f}%; mean {mean:.6f} std {std:.6f}; exported {a.out}")


if __name__ == "__main__":
    main()
