#!/usr/bin/python3
"""The Python package's half of the cross-check with effscale's predict (tests/apps/test_python_package.cpp).

make DIR SPEC_JSON RESOLUTION: writes DIR/spec.json, DIR/weights.pth (seeded random weights, non-trivial batch
    norm statistics) built by effscale.EfficientNet, and DIR/x.pt, a batch of 2 inputs at RESOLUTION.
compare DIR: loads DIR/spec.json + DIR/weights.pth with effscale.load_model, checks its logits of DIR/x.pt against
    DIR/logits.pt (what predict wrote) to 1e-4 relative, the scripted model against the module, and exports
    DIR/model.onnx with `python3 -m effscale.export_onnx`, checked by onnx.checker. Prints one line; exit 0 when
    all hold.
"""
import subprocess
import sys

import torch


def make(folder, spec_json, resolution):
    import effscale
    with open(f"{folder}/spec.json", "w") as f:
        f.write(spec_json)
    torch.manual_seed(1)
    model = effscale.EfficientNet(effscale.load_spec(f"{folder}/spec.json"))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
    torch.save(model.state_dict(), f"{folder}/weights.pth")
    torch.save(torch.randn(2, model.conv_stem.in_channels, resolution, resolution), f"{folder}/x.pt")


def compare(folder):
    import effscale
    import onnx
    model = effscale.load_model(f"{folder}/spec.json", f"{folder}/weights.pth")
    x, expected = torch.load(f"{folder}/x.pt"), torch.load(f"{folder}/logits.pt")
    with torch.no_grad():
        got = model(x)
        scripted = torch.jit.script(model)(x)
    error = ((got - expected).abs().max() / expected.abs().max().clamp(min=1.0)).item()
    script_error = (scripted - got).abs().max().item()
    out = subprocess.run([sys.executable, "-m", "effscale.export_onnx", f"{folder}/spec.json", f"{folder}/weights.pth",
                          f"{folder}/model.onnx", "--resolution", str(x.shape[-1])], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"export_onnx failed: {out.stderr.strip()}")
        return 1
    onnx.checker.check_model(onnx.load(f"{folder}/model.onnx"))
    ok = error < 1e-4 and script_error < 1e-5
    print(f"{'ok' if ok else 'MISMATCH'} relative_error={error:.3g} script_error={script_error:.3g} onnx=checked")
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(compare(sys.argv[2]))
