"""effscale's architecture specs in Python: block strings, width and depth rounding, and the layer plan.

The same rules as effscale's C++ (models/spec): a spec JSON as train_model, nas_search and scale_models write
(spec.json) decodes to the same layers here, so weights.pth loads by name.
"""
import json
import math
import re
from dataclasses import dataclass
from typing import List, Tuple

_DEFAULTS = {"name": "custom", "stem_filters": 32, "head_filters": 1280, "width_mult": 1.0, "depth_mult": 1.0,
             "depth_divisor": 8, "resolution": 224, "dropout": 0.2, "drop_connect": 0.2, "num_classes": 1000,
             "in_channels": 3, "bn_eps": 1e-3, "bn_momentum": 0.01, "padding": "symmetric"}


@dataclass
class BlockArgs:
    """One stage of a block string such as r2_k3_s22_e6_i16_o24_se0.25 (reference filters and repeats)."""
    num_repeat: int
    kernel_size: int
    strides: Tuple[int, int]
    expand_ratio: int
    input_filters: int
    output_filters: int
    se_ratio: float = 0.0
    id_skip: bool = True
    conv_type: int = 0
    pool_skip: bool = False


def parse_block_string(text: str) -> BlockArgs:
    """Decodes a block string; raises ValueError naming the string and the bad token."""
    values = {"se": 0.0, "c": 0, "skip": None}
    for token in text.split("_"):
        if token in ("noskip", "poolskip"):
            values["skip"] = token
            continue
        match = re.fullmatch(r"(se)(\d+(?:\.\d+)?)|([rkseioc])(\d+)", token)
        if not match:
            raise ValueError(f"block string '{text}': token '{token}' is not understood")
        key, number = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        if key == "s":
            if len(number) != 2:
                raise ValueError(f"block string '{text}': token '{token}': expected two stride digits")
            values[key] = (int(number[0]), int(number[1]))
        else:
            values[key] = float(number) if key == "se" else int(number)
    for key in "rkseio":
        if key not in values:
            raise ValueError(f"block string '{text}': missing the required '{key}' token")
    return BlockArgs(values["r"], values["k"], values["s"], values["e"], values["i"], values["o"], values["se"],
                     values["skip"] != "noskip", values["c"], values["skip"] == "poolskip")


def round_filters(filters: int, width_mult: float, divisor: int) -> int:
    scaled = filters * width_mult
    rounded = int(math.floor(scaled + divisor / 2.0)) // divisor * divisor
    rounded = max(divisor, rounded)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return rounded


def round_repeats(repeats: int, depth_mult: float) -> int:
    return int(math.ceil(depth_mult * repeats))


@dataclass
class LayerPlan:
    """One MBConv layer exactly as it is built."""
    stage: int
    index_in_stage: int
    input_filters: int
    output_filters: int
    expanded_filters: int
    se_filters: int
    kernel_size: int
    strides: Tuple[int, int]
    expand_ratio: int
    residual: bool
    pool_shortcut: bool
    fused: bool
    plain: bool
    drop_connect_rate: float


@dataclass
class Spec:
    """A network: stem, stages of MBConv blocks, head, pooling, dropout, classifier (effscale's ArchSpec)."""
    stages: List[BlockArgs]
    name: str = "custom"
    stem_filters: int = 32
    head_filters: int = 1280
    width_mult: float = 1.0
    depth_mult: float = 1.0
    depth_divisor: int = 8
    resolution: int = 224
    dropout: float = 0.2
    drop_connect: float = 0.2
    num_classes: int = 1000
    in_channels: int = 3
    bn_eps: float = 1e-3
    bn_momentum: float = 0.01
    padding: str = "symmetric"

    def stem(self) -> int:
        return round_filters(self.stem_filters, self.width_mult, self.depth_divisor)

    def head(self) -> int:
        return round_filters(self.head_filters, self.width_mult, self.depth_divisor)

    def layers(self) -> List[LayerPlan]:
        stages = []
        for b in self.stages:
            stages.append((round_filters(b.input_filters, self.width_mult, self.depth_divisor),
                           round_filters(b.output_filters, self.width_mult, self.depth_divisor),
                           round_repeats(b.num_repeat, self.depth_mult), b))
        total = sum(repeats for _, _, repeats, _ in stages)
        plans: List[LayerPlan] = []
        for s, (first_in, out, repeats, b) in enumerate(stages):
            for j in range(repeats):
                inp = first_in if j == 0 else out
                strides = b.strides if j == 0 else (1, 1)
                residual = b.id_skip and strides == (1, 1) and inp == out
                se = max(1, int(inp * b.se_ratio)) if b.se_ratio > 0 else 0
                plain = b.conv_type == 2
                plans.append(LayerPlan(s, j, inp, out, out if plain else inp * b.expand_ratio, se, b.kernel_size,
                                       strides, b.expand_ratio, residual, b.pool_skip and not residual,
                                       b.conv_type == 1, plain, self.drop_connect * len(plans) / total))
        return plans


def spec_from_json(text: str, source: str = "spec") -> Spec:
    """A Spec from effscale's spec JSON (missing fields take effscale's defaults)."""
    doc = json.loads(text)
    if not isinstance(doc, dict) or not isinstance(doc.get("stages"), list):
        raise ValueError(f"{source}: not an effscale spec (no 'stages' list)")
    unknown = set(doc) - set(_DEFAULTS) - {"stages"}
    if unknown:
        raise ValueError(f"{source}: unknown field '{sorted(unknown)[0]}'")
    values = dict(_DEFAULTS)
    values.update({k: v for k, v in doc.items() if k != "stages"})
    if values["padding"] not in ("symmetric", "tf_same"):
        raise ValueError(f"{source}: padding '{values['padding']}': expected 'symmetric' or 'tf_same'")
    return Spec(stages=[parse_block_string(s) for s in doc["stages"]], **values)


def load_spec(path: str) -> Spec:
    """Reads a spec JSON file (spec.json of a run, or one nas_search exported)."""
    with open(path) as f:
        return spec_from_json(f.read(), path)
