"""Writes the torchvision fixture that dataset's TestTorchvisionFixture reads.

Run with a Python that has torch and torchvision (Debian 12: apt-get install
python3-torchvision, torch 1.13 / torchvision 0.14):

    /usr/bin/python3 dataset/testdata/gen_fixture.py

Cases with interpolation "bilinear": PIL open -> convert("RGB") -> to_tensor
(float32 / 255) -> resize on the tensor (bilinear, antialias=False) ->
center_crop -> normalize, the pipeline dataset.InterpBilinear reproduces.
Cases with "bilinear-pil": PIL open -> convert("RGB") -> resize on the PIL
image (Pillow's bilinear) -> center_crop -> to_tensor -> normalize, the
usual ImageNet evaluation pipeline, which dataset.InterpBilinearPIL
reproduces.
"""
import json
import os
import random

import torch
import torchvision
import torchvision.transforms.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "torchvision")
os.makedirs(OUT, exist_ok=True)

rng = random.Random(8)


def noise_image(mode, w, h):
    bands = {"RGB": 3, "L": 1}[mode]
    data = bytes(rng.randrange(256) for _ in range(w * h * bands))
    return Image.frombytes(mode, (w, h), data)


# Inputs: an RGB image wider than tall and a grey one taller than wide.
noise_image("RGB", 37, 29).save(os.path.join(OUT, "rgb_37x29.png"))
noise_image("L", 20, 23).save(os.path.join(OUT, "grey_20x23.png"))

IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
cases = [
    # name, image, resize, shorter, shape (C,H,W), mean, std
    ("shorter20_crop16_imagenet", "rgb_37x29.png", "shorter", 20, [3, 16, 16], *IMAGENET),
    # 33 px shorter side: 33x42, crop 24x30 -> offsets round(4.5)=4 and 6.
    ("shorter33_crop24x30", "rgb_37x29.png", "shorter", 33, [3, 24, 30], [], []),
    ("exact_up_45x50", "rgb_37x29.png", "exact", 0, [3, 45, 50], [0.5, 0.25, 0.125], [0.5, 2.0, 0.3]),
    ("exact_down_8x8", "rgb_37x29.png", "exact", 0, [3, 8, 8], [], []),
    ("grey_exact_16x16", "grey_20x23.png", "exact", 0, [3, 16, 16], *IMAGENET),
    ("grey_shorter17_crop16", "grey_20x23.png", "shorter", 17, [3, 16, 16], [], []),
]
cases = [c + ("bilinear",) for c in cases] + [c + ("bilinear-pil",) for c in [
    ("pil_shorter20_crop16_imagenet", "rgb_37x29.png", "shorter", 20, [3, 16, 16], *IMAGENET),
    ("pil_shorter33_crop24x30", "rgb_37x29.png", "shorter", 33, [3, 24, 30], [], []),
    ("pil_exact_up_45x50", "rgb_37x29.png", "exact", 0, [3, 45, 50], [], []),
    ("pil_exact_down_8x8", "rgb_37x29.png", "exact", 0, [3, 8, 8], [], []),
    ("pil_exact_down_7x5", "rgb_37x29.png", "exact", 0, [3, 7, 5], [], []),
    ("pil_grey_shorter17_crop16", "grey_20x23.png", "shorter", 17, [3, 16, 16], *IMAGENET),
]]

manifest = {"torch": torch.__version__, "torchvision": torchvision.__version__, "cases": []}
for name, image, resize, shorter, shape, mean, std, interp in cases:
    t = Image.open(os.path.join(OUT, image)).convert("RGB")
    if interp == "bilinear":
        t = F.to_tensor(t)
    kw = {"antialias": False} if interp == "bilinear" else {}
    _, h, w = shape
    if resize == "shorter":
        t = F.resize(t, shorter, interpolation=F.InterpolationMode.BILINEAR, **kw)
        t = F.center_crop(t, [h, w])
    else:
        t = F.resize(t, [h, w], interpolation=F.InterpolationMode.BILINEAR, **kw)
    if interp == "bilinear-pil":
        t = F.to_tensor(t)
    if mean:
        t = F.normalize(t, mean, std)
    assert list(t.shape) == shape, (name, t.shape)
    out = name + ".f32"
    with open(os.path.join(OUT, out), "wb") as f:
        f.write(t.contiguous().numpy().astype("<f4").tobytes())
    manifest["cases"].append({"name": name, "image": image, "resize": resize, "shorter_px": shorter, "interpolation": interp,
                              "shape": shape, "mean": mean, "std": std, "want": out})

with open(os.path.join(OUT, "cases.json"), "w") as f:
    json.dump(manifest, f, indent=1)
    f.write("\n")
