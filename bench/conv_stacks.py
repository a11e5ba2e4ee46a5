#!/usr/bin/env python3
"""ONNX fixtures of one convolution shape each, for timing Lopper against ONNX Runtime layer shape by layer shape.

usage: bench/conv_stacks.py OUT_DIR [C@HW ...]   (default: vgg-small's and ResNet-20's stride-1 shapes)
  Writes OUT_DIR/convC-HW.onnx per shape: two 3x3 convolutions C -> C with padding 1 and ReLU on C x HW x HW, then
  global average pooling and a 10-way Gemm (so that `lopper import` takes it as a classifier); weights random (seed 0,
  He-normal). Needs python3-onnx. bench/conv_stacks.sh imports and times them.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def stack(c, hw, path, convs=2):
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "input"
    for i in range(convs):
        w = (rng.standard_normal((c, c, 3, 3)) * np.sqrt(2 / (c * 9))).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(np.zeros(c, np.float32), f"b{i}")]
        nodes.append(helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name=f"conv{i}"))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"], name=f"relu{i}"))
        x = f"r{i}"
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["g"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["g"], ["f"], name="flatten"))
    inits += [numpy_helper.from_array((rng.standard_normal((10, c)) * 0.1).astype(np.float32), "wl"),
              numpy_helper.from_array(np.zeros(10, np.float32), "bl")]
    nodes.append(helper.make_node("Gemm", ["f", "wl", "bl"], ["output"], transB=1, name="fc"))
    graph = helper.make_graph(nodes, os.path.basename(path)[:-5], [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", c, hw, hw])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main(args):
    if not args:
        sys.exit(__doc__.strip())
    out, shapes = args[0], args[1:] or ["64@28", "128@14", "256@7", "16@28", "32@14", "64@7"]
    os.makedirs(out, exist_ok=True)
    for s in shapes:
        c, hw = (int(v) for v in s.split("@"))
        stack(c, hw, os.path.join(out, f"conv{c}-{hw}.onnx"))
        print(os.path.join(out, f"conv{c}-{hw}.onnx"))


if __name__ == "__main__":
    main(sys.argv[1:])
