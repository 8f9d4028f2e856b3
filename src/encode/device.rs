//! Which device the encoders run on, and how much of a batch they take at once there.

use std::fmt;
use std::str::FromStr;

use super::{cuda_library, EncodeError};

/// The `--device` choice: `auto` takes the first CUDA GPU libtorch sees, else the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA if available, else CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// CUDA device N.
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = EncodeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            _ => text
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| EncodeError::BadDevice { text: text.to_owned() }),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceChoice {
    /// The libtorch device to use; refuses a CUDA index libtorch does not see.
    ///
    /// Opens libtorch's CUDA library first where it may be needed (`cuda_library`): for `auto`
    /// only where the NVIDIA driver is installed, so that a machine without one runs on the CPU
    /// without loading CUDA at all.
    pub fn resolve(self) -> Result<tch::Device, EncodeError> {
        match self {
            DeviceChoice::Auto => {
                if !cuda_library::nvidia_driver_present() {
                    return Ok(tch::Device::Cpu);
                }
                if let Err(why) = cuda_library::open_libtorch_cuda() {
                    tracing::warn!(%why, "the NVIDIA driver is installed, but libtorch's CUDA library did not open: encoding on the CPU");
                }
                Ok(tch::Device::cuda_if_available())
            }
            DeviceChoice::Cpu => Ok(tch::Device::Cpu),
            DeviceChoice::Cuda(index) => {
                cuda_library::open_libtorch_cuda().map_err(|why| EncodeError::CudaLibraryUnopened { index, why })?;
                let available = tch::Cuda::device_count().max(0) as usize;
                if index < available {
                    Ok(tch::Device::Cuda(index))
                } else {
                    Err(EncodeError::CudaUnavailable { index, available })
                }
            }
        }
    }
}

/// Input bytes a CPU encoder takes in one pass: a pass's tensors (input, spectrum or floats,
/// bands) then stay in the core's cache, where a whole batch of 256 audio windows (2 MiB) or of
/// 64 video frames would not, and would run several times slower per frame.
const CPU_PASS_BYTES: usize = 256 * 1024;

/// How many frames of `frame_bytes` input bytes an encoder on `device` takes in one pass: as
/// many as fit [`CPU_PASS_BYTES`] on the CPU (at least one), the whole batch on a GPU, which
/// needs large batches to be busy.
pub(crate) fn frames_per_pass(device: tch::Device, frame_bytes: usize) -> usize {
    match device {
        tch::Device::Cpu => (CPU_PASS_BYTES / frame_bytes.max(1)).max(1),
        _ => usize::MAX,
    }
}

/// Checks that `frames` holds whole audio frames of `frame_len` samples (at least one sample),
/// and hands them to `encode` in passes of [`frames_per_pass`] frames for `device`.
pub(crate) fn in_audio_passes(
    frames: &[f32],
    frame_len: usize,
    device: tch::Device,
    encode: impl FnMut(&[f32]) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    if frame_len == 0 || !frames.len().is_multiple_of(frame_len) {
        return Err(EncodeError::BadInputSize {
            what: "audio frame data",
            expected: frame_len,
            actual: frames.len(),
        });
    }
    let pass = frames_per_pass(device, frame_len * 4).saturating_mul(frame_len);
    frames.chunks(pass).try_for_each(encode)
}

/// Runs libtorch's CPU operators on the calling threads only, without an intra-op pool.
///
/// Live runs encode small batches as they come; libtorch's OpenMP pool then spends its time
/// spin-waiting between them: one `sync` stream kept a whole core busy (8.2 s of CPU in an 8 s
/// run) against 1.2 s with one thread, and the idle spinning takes cores from other streams.
/// Offline encoding of a whole reference keeps the pool.
pub fn encode_on_calling_threads() {
    tch::set_num_threads(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!("auto".parse::<DeviceChoice>().unwrap(), DeviceChoice::Auto);
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!("cuda".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cuda(0));
        assert_eq!("cuda:3".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cuda(3));
        assert!("gpu".parse::<DeviceChoice>().is_err());
        assert!("cuda:x".parse::<DeviceChoice>().is_err());
    }

    #[test]
    fn cpu_always_resolves() {
        assert_eq!(DeviceChoice::Cpu.resolve().unwrap(), tch::Device::Cpu);
        assert!(DeviceChoice::Auto.resolve().is_ok());
    }
}
