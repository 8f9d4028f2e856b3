"""Small TorchScript models for tests/torchscript_models.rs, each with its contract.

Usage: python make_models.py OUT_DIR
Writes (each NAME.pt with NAME.toml):
- energy.pt: audio, 16 kHz windows of 400 samples -> [mean square, peak];
- channel_means.pt: video, 8x6 RGB, normalised -> the three channel means;
- channel_means_bgr.pt: the same model declared BGR;
- echo.pt: audio, returns its input ([batch, 400]) although it declares 2 values;
- linear512.pt: audio, a Linear(512, 4) declared with 400-sample windows;
- integers.pt: audio, returns [batch, 2] integers;
- log_spectrum.pt: audio, 16 kHz windows of 512 samples every 320 (20 ms) -> 32 log band energies;
- log_spectrum_10ms.pt: the same model framed every 160 samples (10 ms);
- cells.pt: video, 32x24 greyscale -> the means of an 8x6 grid of cells (48 values).
- face_box.pt: video, 64x48 RGB -> [x, y, width, height, score]: a fixed box around where
  make_sync_media.py draws the mouth, score 0.9 (a face model's contract, for sync --face-model);
- sync_pair.pt: a sync model (kind = "sync"): embed_audio hears 0.1 s at 16 kHz every 10 ms and
  gives the loudness as an angle on the quarter circle; embed_video sees three 16x12 greyscale
  pictures and gives the middle one's brightness as an angle alike, so the two agree where the
  loudness and the brightness go together (as in make_sync_media.py's level_picture.mp4).
"""

import os
import sys

import torch


class Energy(torch.nn.Module):
    def forward(self, x):
        return torch.stack([(x * x).mean(1), x.abs().amax(1)], 1)


class ChannelMeans(torch.nn.Module):
    def forward(self, x):
        return x.mean([2, 3])


class Echo(torch.nn.Module):
    def forward(self, x):
        return x


class LogSpectrum(torch.nn.Module):
    def forward(self, x):
        window = torch.hann_window(x.shape[1], device=x.device, dtype=x.dtype)
        power = torch.fft.rfft(x * window).abs() ** 2
        bands = power[:, 1:257].reshape(x.shape[0], 32, 8).sum(2)
        return torch.log1p(100.0 * bands)


class Cells(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.adaptive_avg_pool2d(x, (6, 8)).flatten(1)


class FaceBox(torch.nn.Module):
    def forward(self, x):
        box = torch.tensor([0.4375, 0.5, 0.1875, 0.25, 0.9], dtype=x.dtype, device=x.device)
        return box.expand(x.shape[0], 5)


def quarter_circle(level):
    angle = level.clamp(0.0, 1.0) * (3.141592653589793 / 2)
    return torch.stack([torch.cos(angle), torch.sin(angle)], 1)


class SyncPair(torch.nn.Module):
    @torch.jit.export
    def embed_audio(self, x):
        return quarter_circle((torch.log((x * x).mean(1) + 1e-6) + 12.0) / 10.0)

    @torch.jit.export
    def embed_video(self, x):
        return quarter_circle(x[:, x.shape[1] // 2].mean([1, 2]))

    def forward(self, x):
        return x


class Integers(torch.nn.Module):
    def forward(self, x):
        return torch.zeros(x.shape[0], 2, dtype=torch.int64)


AUDIO = 'kind = "audio"\nsample_rate_hz = 16000\nwindow_samples = 400\noutput_dim = {dim}\n'
VIDEO = ('kind = "video"\nwidth = 8\nheight = 6\nchannels = "{order}"\nmean = [0.5, 0.5, 0.5]\n'
         'std = [0.25, 0.25, 0.25]\noutput_dim = 3\n')


def save(out, name, module, contract):
    torch.jit.script(module).save(os.path.join(out, name + ".pt"))
    with open(os.path.join(out, name + ".toml"), "w") as f:
        f.write(contract)


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    save(out, "energy", Energy(), AUDIO.format(dim=2))
    save(out, "channel_means", ChannelMeans(), VIDEO.format(order="rgb"))
    save(out, "channel_means_bgr", ChannelMeans(), VIDEO.format(order="bgr"))
    save(out, "echo", Echo(), AUDIO.format(dim=2))
    save(out, "linear512", torch.nn.Linear(512, 4), AUDIO.format(dim=4))
    save(out, "integers", Integers(), AUDIO.format(dim=2))
    save(out, "cells", Cells(), 'kind = "video"\nwidth = 32\nheight = 24\nchannels = "gray"\noutput_dim = 48\n')
    save(out, "face_box", FaceBox(),
         'kind = "video"\nwidth = 64\nheight = 48\nchannels = "rgb"\noutput_dim = 5\n')
    save(out, "sync_pair", SyncPair(),
         'kind = "sync"\nsample_rate_hz = 16000\naudio_window_samples = 1600\naudio_hop_samples = 160\n'
         'width = 16\nheight = 12\nchannels = "gray"\nframes = 3\noutput_dim = 2\nsure_margin = 0.2\n')
    save(out, "sync_pair_8k", SyncPair(),
         'kind = "sync"\nsample_rate_hz = 8000\naudio_window_samples = 800\naudio_hop_samples = 80\n'
         'width = 16\nheight = 12\nchannels = "gray"\nframes = 3\noutput_dim = 2\n')
    save(out, "log_spectrum", LogSpectrum(),
         'kind = "audio"\nsample_rate_hz = 16000\nwindow_samples = 512\nhop_samples = 320\noutput_dim = 32\n')
    save(out, "log_spectrum_10ms", LogSpectrum(),
         'kind = "audio"\nsample_rate_hz = 16000\nwindow_samples = 512\nhop_samples = 160\noutput_dim = 32\n')


if __name__ == "__main__":
    main()
