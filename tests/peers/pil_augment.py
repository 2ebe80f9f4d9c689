"""Peer for the augmentation tests: applies Pillow's operations (what the EfficientNet reference's
AutoAugment/RandAugment ops are defined after) to an image the test wrote.

usage: pil_augment.py DIR C H W   reads DIR/in.bin (uint8 planar C x H x W, C = 1 or 3) and writes
DIR/<name>.bin (planar) for every case below; geometric cases are written for both signs (<name>+, <name>-).
"""
import sys

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

d, c, h, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
planes = np.fromfile(d + "/in.bin", dtype=np.uint8).reshape(c, h, w)
img = Image.fromarray(planes[0]) if c == 1 else Image.fromarray(planes.transpose(1, 2, 0).copy(), "RGB")
fill = 128 if c == 1 else (128, 128, 128)


def save(name, out):
    a = np.asarray(out)
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    np.ascontiguousarray(a).tofile(d + "/" + name + ".bin")


def factor(level):
    return level / 10 * 1.8 + 0.1


save("AutoContrast", ImageOps.autocontrast(img))
save("Equalize", ImageOps.equalize(img))
save("Invert", ImageOps.invert(img))
for level in (6, 10):
    save("Posterize%d" % level, ImageOps.posterize(img, int(level / 10 * 4)))
save("Solarize4", ImageOps.solarize(img, int(4 / 10 * 256)))
add = int(5 / 10 * 110)
save("SolarizeAdd5", np.where(planes < 128, np.minimum(planes.astype(int) + add, 255), planes).astype(np.uint8)
     .transpose(1, 2, 0).squeeze())
for name, enhancer in (("Color", ImageEnhance.Color), ("Contrast", ImageEnhance.Contrast),
                       ("Brightness", ImageEnhance.Brightness), ("Sharpness", ImageEnhance.Sharpness)):
    for level in (2, 8):
        save("%s%d" % (name, level), enhancer(img).enhance(factor(level)))
for sign, s in (("+", 1), ("-", -1)):
    save("Rotate5" + sign, img.rotate(s * 15.0, resample=Image.NEAREST, fillcolor=fill))
    save("ShearX5" + sign, img.transform(img.size, Image.AFFINE, (1, s * 0.15, 0, 0, 1, 0), Image.NEAREST, fillcolor=fill))
    save("ShearY5" + sign, img.transform(img.size, Image.AFFINE, (1, 0, 0, s * 0.15, 1, 0), Image.NEAREST, fillcolor=fill))
    save("TranslateX5" + sign, img.transform(img.size, Image.AFFINE, (1, 0, s * 0.225 * w, 0, 1, 0), Image.NEAREST, fillcolor=fill))
    save("TranslateY5" + sign, img.transform(img.size, Image.AFFINE, (1, 0, 0, 0, 1, s * 0.225 * h), Image.NEAREST, fillcolor=fill))
