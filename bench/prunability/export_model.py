#!/usr/bin/python3
"""Exports one torchvision 0.14 classification model to ONNX: random weights (seed 0), eval mode, opset 13,
input 'input' [batch, 3, S, S] with a dynamic batch (S = 299 for inception_v3, else 224), output 'logits'.
Usage: /usr/bin/python3 export_model.py NAME OUT.onnx"""
import sys

import torch
import torchvision


def main(name, out):
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None).eval()
    size = 299 if name == "inception_v3" else 224
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        # GoogLeNet's default init (truncated normal, std 0.01) lets every input die out (the logits are the
        # classifier's bias whatever the image), which any implementation matches: such a model is re-initialised (Kaiming normal) so the check means something.
        y = model(torch.randn(2, 3, size, size))
        if torch.equal(y[0], y[1]):
            for m in model.modules():
                if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                    torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            print("re-initialised: the default init gives the same outputs for every input")
        torch.onnx.export(model, x, out, opset_version=13, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
