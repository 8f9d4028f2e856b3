"""Exports a PyTorch model as a TorchScript encoder for warpflow, with its contract beside it.

warpflow runs any TorchScript module whose forward takes one batch tensor and returns
[batch, dim] floats; the contract (NAME.toml beside NAME.pt) says what goes in. This script
traces a model on an example batch, checks its output shape and writes both files.

  # A torchvision ResNet-18 as a video encoder: 512 features per frame (the pooled layer before
  # the classifier), 224x224 RGB with ImageNet normalisation. Pass the weights you have
  # (e.g. resnet18-f37072fd.pth); without them the weights are random (fine for timing only).
  python scripts/export_model.py resnet18 resnet18.pt [--weights resnet18.pth]

  # Any nn.Module class importable from Python, as an audio or a video encoder:
  python scripts/export_model.py class mypackage.models:Embedder embedder.pt \\
      --audio 16000 400 [--hop 160] [--weights embedder.pth]
  python scripts/export_model.py class mypackage.models:FrameNet framenet.pt \\
      --video 112 112 rgb [--mean 0.5 0.5 0.5 --std 0.5 0.5 0.5] [--weights framenet.pth]

Then: warpflow follow --reference REF --live SOURCE --audio-model embedder.pt
Run with the project's venv (source scripts/env.sh); `resnet18` needs torchvision==0.26.0
(the version made for torch 2.11.0): pip install torchvision==0.26.0.
"""

import argparse
import importlib
import os
import sys

import torch

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def resnet18_features(weights):
    import torchvision

    model = torchvision.models.resnet18()
    if weights:
        model.load_state_dict(torch.load(weights, map_location="cpu"))
    else:
        print("export_model: no --weights given, the weights are random (timing only)", file=sys.stderr)
    model.fc = torch.nn.Identity()
    return model


def load_class(spec, weights):
    module_name, _, class_name = spec.partition(":")
    if not class_name:
        sys.exit(f"export_model: '{spec}' is not MODULE:CLASS")
    model = getattr(importlib.import_module(module_name), class_name)()
    if weights:
        model.load_state_dict(torch.load(weights, map_location="cpu"))
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", choices=["resnet18", "class"])
    parser.add_argument("spec_or_output")
    parser.add_argument("output", nargs="?")
    parser.add_argument("--weights")
    parser.add_argument("--audio", nargs=2, type=int, metavar=("RATE_HZ", "WINDOW_SAMPLES"))
    parser.add_argument("--hop", type=int)
    parser.add_argument("--video", nargs=3, metavar=("WIDTH", "HEIGHT", "CHANNELS"))
    parser.add_argument("--mean", nargs="+", type=float)
    parser.add_argument("--std", nargs="+", type=float)
    args = parser.parse_args()

    if args.source == "resnet18":
        output = args.spec_or_output
        model = resnet18_features(args.weights)
        video = ("224", "224", "rgb")
        mean, std, audio = IMAGENET_MEAN, IMAGENET_STD, None
    else:
        if not args.output or (args.audio is None) == (args.video is None):
            sys.exit("export_model: class needs OUTPUT and one of --audio or --video")
        output = args.output
        model = load_class(args.spec_or_output, args.weights)
        video, audio, mean, std = args.video, args.audio, args.mean, args.std

    model.eval()
    if audio:
        example = torch.zeros(2, audio[1])
    else:
        width, height, channels = int(video[0]), int(video[1]), video[2]
        example = torch.zeros(2, 1 if channels == "gray" else 3, height, width)
    with torch.no_grad():
        traced = torch.jit.trace(model, example)
        out = traced(example)
    if out.dim() != 2 or out.shape[0] != 2 or not out.is_floating_point():
        sys.exit(f"export_model: the model gives {list(out.shape)} {out.dtype}; warpflow needs [batch, dim] floats")
    traced.save(output)

    lines = []
    if audio:
        lines += ['kind = "audio"', f"sample_rate_hz = {audio[0]}", f"window_samples = {audio[1]}"]
        if args.hop:
            lines.append(f"hop_samples = {args.hop}")
    else:
        lines += ['kind = "video"', f"width = {video[0]}", f"height = {video[1]}", f'channels = "{video[2]}"']
        if mean:
            lines.append(f"mean = {list(mean)}")
        if std:
            lines.append(f"std = {list(std)}")
    lines.append(f"output_dim = {out.shape[1]}")
    contract = os.path.splitext(output)[0] + ".toml"
    with open(contract, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {output} and {contract}: {out.shape[1]} values per {'window' if audio else 'frame'}")


if __name__ == "__main__":
    main()
