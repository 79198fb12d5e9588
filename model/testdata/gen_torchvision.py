#!/usr/bin/python3
"""Ground truth for model.New at one input size, measured with real torchvision.

Writes the format of ../shared/reference/torchvision/backbones_224.json
without any latency: per backbone the head channels, totals, blocks
(top-level children, the split candidates), leaves (every leaf module call,
in call order) and the MTL-Split heads. Counting rules are in meta.notes.

    /usr/bin/python3 model/testdata/gen_torchvision.py --size 64 \
        -o model/testdata/torchvision_64.json

Needs torch and torchvision (Debian's python3-torch 1.13 and
python3-torchvision 0.14). Runs one fp32 forward pass per backbone on CPU;
no timing, so the output is deterministic.
"""

import argparse
import collections
import json
import platform
import sys

import torch
from torch import nn
import torchvision
from torchvision import models
from torchvision.ops import StochasticDepth

HIDDEN = 256
HEADS = [8, 4]
BACKBONES = ["vgg16", "vgg16_bn", "resnet18", "mobilenet_v3_small", "efficientnet_b0"]

# Published backbone-only params and GMACs at 224 (as in backbones_224.json).
PUBLISHED = {
    "vgg16": (14710000.0, 15.35),
    "vgg16_bn": (14720000.0, 15.35),
    "resnet18": (11180000.0, 1.82),
    "mobilenet_v3_small": (930000.0, 0.06),
    "efficientnet_b0": (4000000.0, 0.39),
}

NOTES = [
    "shapes/params/MACs/elementwise_ops: per sample (batch 1, fp32 CPU pass); no latency "
    "(made by model/testdata/gen_torchvision.py)",
    "MACs: Conv2d out_elems*Cin/groups*kh*kw, Linear in*out; biases excluded. elementwise_ops: "
    "1 per output for BN/activations, kh*kw per output for Max/AvgPool, input elems for adaptive "
    "pools, 0 for Dropout/StochasticDepth; non-module ops (residual adds, SE scaling, flatten) "
    "are not counted",
    "head = Linear(C*h*w,hidden), Dropout(0.1), ReLU, Linear(hidden,k) on the flattened backbone "
    "output (C*h*w of the backbone output at this size)",
    "published_params/published_gmacs are the published figures at 224; gmacs_rel_diff is null "
    "at other sizes",
]

ELEMENTWISE = (
    nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.SiLU, nn.Sigmoid,
    nn.GELU, nn.Tanh,
)


def backbone(name):
    """The backbone as (prefix, Sequential whose children are the blocks)."""
    if name == "resnet18":
        m = models.resnet18()
        kids = [(n, c) for n, c in m.named_children() if n not in ("avgpool", "fc")]
        return "", nn.Sequential(collections.OrderedDict(kids))
    return "features.", getattr(models, name)().features


def pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


def hyper(m):
    if isinstance(m, nn.Conv2d):
        return {
            "in_channels": m.in_channels, "out_channels": m.out_channels,
            "kernel_size": list(m.kernel_size), "stride": list(m.stride),
            "padding": list(m.padding) if not isinstance(m.padding, str) else m.padding,
            "dilation": list(m.dilation), "groups": m.groups, "bias": m.bias is not None,
        }
    if isinstance(m, nn.Linear):
        return {"in_features": m.in_features, "out_features": m.out_features,
                "bias": m.bias is not None}
    if isinstance(m, nn.BatchNorm2d):
        return {"num_features": m.num_features, "eps": m.eps}
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        h = {"kernel_size": m.kernel_size, "stride": m.stride, "padding": m.padding}
        if isinstance(m, nn.MaxPool2d):
            h["dilation"] = m.dilation
        return h
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return {"output_size": m.output_size}
    if isinstance(m, StochasticDepth):
        return {"p": m.p, "mode": m.mode}
    if isinstance(m, nn.Dropout):
        return {"p": m.p, "inplace": m.inplace}
    if hasattr(m, "inplace"):
        return {"inplace": m.inplace}
    return {}


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def count(m, in_shape, out_shape):
    """(params, macs, elementwise_ops) of one call of leaf module m."""
    params = sum(p.numel() for p in m.parameters())
    out = numel(out_shape)
    macs = ew = 0
    if isinstance(m, nn.Conv2d):
        kh, kw = m.kernel_size
        macs = out * (m.in_channels // m.groups) * kh * kw
    elif isinstance(m, nn.Linear):
        macs = m.in_features * m.out_features
    elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        kh, kw = pair(m.kernel_size)
        ew = out * kh * kw
    elif isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        ew = numel(in_shape)
    elif isinstance(m, ELEMENTWISE):
        ew = out
    elif isinstance(m, (nn.Dropout, StochasticDepth, nn.Identity)):
        pass
    else:
        raise SystemExit(f"no counting rule for leaf {type(m).__name__}")
    return params, macs, ew


def measure(name, size):
    prefix, net = backbone(name)
    net.eval()
    block_of = {}
    for i, (_, child) in enumerate(net.named_children()):
        for mod in child.modules():
            block_of[id(mod)] = i
    leaves, handles = [], []

    def hook(mod_name):
        def fn(mod, inputs, output):
            in_shape = list(inputs[0].shape)
            out_shape = list(output.shape)
            params, macs, ew = count(mod, in_shape, out_shape)
            leaves.append({
                "name": prefix + mod_name, "type": type(mod).__name__, "hyper": hyper(mod),
                "in_shape": in_shape, "out_shape": out_shape, "params": params, "macs": macs,
                "elementwise_ops": ew, "block": block_of[id(mod)],
            })
        return fn

    for mod_name, mod in net.named_modules():
        if mod_name and not any(True for _ in mod.children()):
            handles.append(mod.register_forward_hook(hook(mod_name)))

    blocks = []
    x = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        for i, (child_name, child) in enumerate(net.named_children()):
            in_shape = list(x.shape)
            x = child(x)
            out_shape = list(x.shape)
            mine = [l for l in leaves if l["block"] == i]
            out_elems = numel(out_shape)
            blocks.append({
                "index": i, "name": prefix + child_name, "type": type(child).__name__,
                "in_shape": in_shape, "out_shape": out_shape, "out_elems": out_elems,
                "out_bytes_fp32": 4 * out_elems, "out_bytes_fp16": 2 * out_elems,
                "params": sum(p.numel() for p in child.parameters()),
                "macs": sum(l["macs"] for l in mine),
                "elementwise_ops": sum(l["elementwise_ops"] for l in mine),
            })
    for h in handles:
        h.remove()

    params = sum(p.numel() for p in net.parameters())
    macs = sum(l["macs"] for l in leaves)
    out_shape = list(x.shape)
    out_elems = numel(out_shape)

    def smallest(bs):
        b = min(bs, key=lambda b: b["out_elems"])  # first of equals
        return {k: b[k] for k in ("index", "name", "out_shape", "out_elems")}

    pub_params, pub_gmacs = PUBLISHED[name]
    totals = {
        "params": params, "macs": macs, "gmacs": macs / 1e9,
        "leaf_count": len(leaves), "block_count": len(blocks),
        "elementwise_ops": sum(l["elementwise_ops"] for l in leaves),
        "input_elems": 3 * size * size, "out_shape": out_shape, "out_elems": out_elems,
        "out_bytes_fp32": 4 * out_elems,
        "smallest_activation_block": smallest(blocks),
        "smallest_activation_block_before_last": smallest(blocks[:-1]),
        "published_params": pub_params,
        "params_rel_diff": params / pub_params - 1,
        "published_gmacs": pub_gmacs if size == 224 else None,
        "gmacs_rel_diff": macs / 1e9 / pub_gmacs - 1 if size == 224 else None,
    }

    heads = []
    in_features = out_elems
    for k in HEADS:
        head = nn.Sequential(nn.Linear(in_features, HIDDEN), nn.Dropout(0.1), nn.ReLU(),
                             nn.Linear(HIDDEN, k))
        heads.append({
            "k": k, "in_features": in_features, "hidden": HIDDEN,
            "params": sum(p.numel() for p in head.parameters()),
            "macs": sum(m.in_features * m.out_features for m in head if isinstance(m, nn.Linear)),
        })
    return {"head_channels": out_shape[1], "totals": totals, "blocks": blocks,
            "leaves": leaves, "heads": heads}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, required=True, help="square input size in pixels")
    ap.add_argument("--models", default=",".join(BACKBONES), help="comma-separated backbones")
    ap.add_argument("-o", "--out", help="output file (default stdout)")
    ap.add_argument("--indent", type=int, default=None, help="JSON indent (default compact lines)")
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)
    doc = {
        "meta": {
            "torch": torch.__version__, "torchvision": torchvision.__version__,
            "python": platform.python_version(), "device": "cpu", "dtype": "fp32", "batch": 1,
            "size": args.size, "heads": HEADS, "hidden": HIDDEN, "seed": 0, "notes": NOTES,
        },
        "backbones": {name: measure(name, args.size) for name in args.models.split(",")},
    }
    text = dump(doc) if args.indent is None else json.dumps(doc, indent=args.indent)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        sys.stdout.write(text + "\n")


def dump(doc):
    """JSON with one block, leaf or head per line: small and diffable."""
    c = lambda v: json.dumps(v, separators=(",", ":"))
    lines = ["{", ' "meta": ' + c(doc["meta"]) + ",", ' "backbones": {']
    names = list(doc["backbones"])
    for i, name in enumerate(names):
        b = doc["backbones"][name]
        lines.append(f'  {c(name)}: {{')
        lines.append(f'   "head_channels": {c(b["head_channels"])},')
        lines.append(f'   "totals": {c(b["totals"])},')
        for key in ("blocks", "leaves", "heads"):
            lines.append(f'   "{key}": [')
            rows = b[key]
            lines += ["    " + c(r) + ("," if j < len(rows) - 1 else "") for j, r in enumerate(rows)]
            lines.append("   ]" + ("," if key != "heads" else ""))
        lines.append("  }" + ("," if i < len(names) - 1 else ""))
    lines += [" }", "}"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
