"""PyTorch side of the MobileNetV2 speed comparison (issue 17): torchvision's MobileNetV2 in its common CIFAR
form, timed with peer_torch.bench so its figures sit beside the other peer models.

The CIFAR form (as in kuangliu/pytorch-cifar, the variant most CIFAR papers use): torchvision's
mobilenet_v2(num_classes=10, width_mult=1.0), unchanged except for strides:
  stem conv 3x3        stride 2 -> 1
  stage t=1  c=16  n=1 stride 1    (unchanged)
  stage t=6  c=24  n=2 stride 2 -> 1
  stage t=6  c=32  n=3 stride 2    (unchanged)
  stage t=6  c=64  n=4 stride 2    (unchanged)
  stage t=6  c=96  n=3 stride 1    (unchanged)
  stage t=6  c=160 n=3 stride 2    (unchanged)
  stage t=6  c=320 n=1 stride 1    (unchanged)
so a 32x32 input runs at 32, 32, 32, 16, 8, 8, 4, 4 and the 1x1 conv to 1280 channels, global average pool,
dropout 0.2 and linear 1280 -> 10 see 4x4. Everything else is torchvision's: ReLU6 everywhere, batch-norm
(eps 1e-5, momentum 0.1) after every conv, no conv biases, residual add when stride 1 and cin == cout, the
first stage (t=1) has no expansion conv, each block's stride sits on its first unit's depthwise conv.
`--c32-stride 1` also puts the c=32 stage at stride 1 (8x8 at the end; about 3x the MACs), the other reading
of "first two stride-2 stages"; the default is the kuangliu form.

Usage: /usr/bin/python3 bench/peer_mobilenet.py [THREADS] [--counts] [--c32-stride 1]
  --counts: print parameter and MAC counts (3x32x32 and 1x28x28) instead of timing.
In compare.sh the model can sit beside the others:
  peerModel[mobilenetv2-cifar]="pm.mobilenet_v2_cifar(), (3, 32, 32), steps=2"  with  import peer_mobilenet as pm
Few steps: Debian's torch 1.13 trains this model slowly on CPU (measured on the shared 2-core VM under heavy
load: 2.3 training images/s at batch 16), its grouped-conv backward being the slow part, so 3 warm-up steps
plus 5 timed ones at batch 128 ran past 400 s there.
"""
import json, os, sys
import torch, torch.nn as nn
import torchvision

sys.path.insert(0, os.environ.get("PEER_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench")))


def mobilenet_v2_cifar(num_classes=10, cin=3, c32_stride=2):
    # torchvision's default setting with the CIFAR strides (t, c, n, s).
    setting = [[1, 16, 1, 1], [6, 24, 2, 1], [6, 32, 3, c32_stride], [6, 64, 4, 2],
               [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
    m = torchvision.models.mobilenet_v2(num_classes=num_classes, width_mult=1.0, inverted_residual_setting=setting)
    stem = m.features[0][0]
    m.features[0][0] = nn.Conv2d(cin, stem.out_channels, 3, stride=1, padding=1, bias=False)
    return m


def counts(model, shape):
    """Parameters (trainable, as PyTorch counts them: conv/linear weights and biases, batch-norm scales and
    shifts; running statistics excluded) and multiply-accumulates of one image (conv and linear layers; a
    depthwise conv counts k*k per output), with the depthwise convs' share on its own."""
    macs, dw = [], []
    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            n = out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
            macs.append(n)
            if mod.groups > 1: dw.append(n)
        else:
            macs.append(out.numel() * mod.in_features)
    hs = [mod.register_forward_hook(hook) for mod in model.modules() if isinstance(mod, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *shape))
    for h in hs: h.remove()
    return {"params": sum(p.numel() for p in model.parameters()), "macs": sum(macs), "depthwise_macs": sum(dw)}


if __name__ == "__main__":
    args = [a for a in sys.argv[1:]]
    c32 = 2
    if "--c32-stride" in args:
        i = args.index("--c32-stride"); c32 = int(args[i + 1]); del args[i:i + 2]
    if "--counts" in args:
        for name, cin, shape in (("mobilenetv2-cifar", 3, (3, 32, 32)), ("mobilenetv2-fmnist", 1, (1, 28, 28))):
            m = mobilenet_v2_cifar(cin=cin, c32_stride=c32)
            c = counts(m, shape)
            print(json.dumps({"model": name, "input": list(shape), "c32_stride": c32, **c}))
        sys.exit(0)
    import peer_torch as p
    torch.set_num_threads(int(args[0]) if args else 2)
    torch.manual_seed(0)
    p.bench("mobilenetv2-cifar", mobilenet_v2_cifar(c32_stride=c32), (3, 32, 32), steps=2)
