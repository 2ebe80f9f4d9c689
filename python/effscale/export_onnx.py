"""python3 -m effscale.export_onnx SPEC WEIGHTS OUT.onnx [--resolution R] [--batch N] [--opset K]

Writes the model as ONNX (for ONNX Runtime, OpenVINO or TensorRT): input `images` [N, C, R, R] (R: the spec's
resolution unless given; the batch dimension is dynamic), output `logits` [N, classes].
"""
import argparse
import sys

import torch

from . import load_model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m effscale.export_onnx", description=__doc__.splitlines()[2])
    parser.add_argument("spec")
    parser.add_argument("weights")
    parser.add_argument("output")
    parser.add_argument("--resolution", type=int, default=0, help="input size (default: the spec's)")
    parser.add_argument("--batch", type=int, default=1, help="example batch size (the exported batch is dynamic)")
    parser.add_argument("--opset", type=int, default=13)
    args = parser.parse_args(argv)
    try:
        model = load_model(args.spec, args.weights)
    except (ValueError, RuntimeError, OSError) as e:
        print(f"export_onnx: error: {e}".splitlines()[0], file=sys.stderr)
        return 2
    spec = model.spec
    resolution = args.resolution or spec.resolution
    example = torch.zeros(args.batch, spec.in_channels, resolution, resolution)
    with torch.no_grad():
        torch.onnx.export(model, example, args.output, opset_version=args.opset, input_names=["images"],
                          output_names=["logits"], dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}})
    print(f"export_onnx: wrote {args.output} ({spec.name}, {resolution} px)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
