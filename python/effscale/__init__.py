"""effscale models in PyTorch: load a spec.json and weights.pth that effscale wrote into an nn.Module.

    import effscale
    model = effscale.load_model("runs/b0/spec.json", "runs/b0/weights.pth")   # eval mode
    logits = model(images)                                                     # [N, classes]
    scripted = torch.jit.script(model)

Needs only torch. `python3 -m effscale.export_onnx SPEC WEIGHTS OUT.onnx` writes an ONNX file.
"""
import torch

from .model import EfficientNet
from .spec import Spec, load_spec, parse_block_string, spec_from_json

__all__ = ["EfficientNet", "Spec", "load_model", "load_spec", "parse_block_string", "spec_from_json"]


def load_model(spec_path: str, weights_path: str) -> EfficientNet:
    """The network `spec_path` describes with the weights of `weights_path` (a state dict effscale saved:
    train_model's weights.pth, or a checkpoint holding one under 'state_dict' / 'model'), in eval mode.
    Raises ValueError when the spec is bad and RuntimeError (load_state_dict) when the weights do not fit."""
    model = EfficientNet(load_spec(spec_path))
    state = torch.load(weights_path, map_location="cpu")
    if isinstance(state, dict) and "conv_stem.weight" not in state:
        for key in ("state_dict", "model", "state_dict_ema", "model_ema"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    model.load_state_dict(state, strict=True)
    return model.eval()
