//! Reference files (`.wfr`): a reference's features encoded once, with what made them, so that
//! `follow` can start at once and refuse features made with other settings than its own.
//!
//! Version 2, little-endian throughout (version 1, still read, has no padding):
//!
//! ```text
//! magic      8   b"WFREF\r\n\x1a" (a text transfer or a truncated copy shows at once)
//! version    2   u16 = 1
//! format     2   u16: 0 = f32, 1 = f16, 2 = int8 with one f32 scale per frame
//! dim        4   u32, values per frame
//! frames     8   u64
//! rate_hz    4   u32  ┐
//! frame_len  4   u32  │ the encoder's framing
//! hop_len    4   u32  ┘
//! duration   8   u64, the recording's length in ns
//! name_len   2   u16, at most 160
//! name       n   the encoder's name (UTF-8), e.g. `logmel`
//! padding    p   zeros, so that the data starts at a multiple of 64 bytes
//! header_crc 4   CRC-32 of every byte before it
//! data_crc   4   CRC-32 of the data
//! data           f32: frames·dim values; f16: frames·dim halves;
//!                int8: frames f32 scales, then frames·dim signed bytes (value = byte · scale)
//! ```
//!
//! [`ReferenceFile::parse`] checks everything before trusting anything: the magic, the version,
//! the header's checksum, that the sizes agree with the bytes there are (without allocating
//! what a corrupt header asks for), and the data's checksum. [`ReferenceFile::from_mapped`]
//! does the same on a memory-mapped file and, for f32 data, leaves the values in the mapping:
//! an hour-long reference is then read in place rather than copied into the process (the data's
//! alignment to 64 bytes is what lets the mapped bytes be read as floats).

use std::ops::Range;
use std::sync::Arc;

use half::f16;
use thiserror::Error;

use super::mapped_file::{MappedEncoding, MappedFile, MappedValues};
use super::AudioFrameParams;
use crate::features::{FeatureValues, FeatureValuesError};

const MAGIC: &[u8; 8] = b"WFREF\r\n\x1a";
const VERSION: u16 = 2;
/// The version before the data was aligned.
const UNALIGNED_VERSION: u16 = 1;
const MAX_NAME_LEN: usize = 160;
/// Bytes before the name.
const FIXED_HEADER_LEN: usize = 8 + 2 + 2 + 4 + 8 + 4 + 4 + 4 + 8 + 2;
/// The data starts at a multiple of this many bytes.
const DATA_ALIGNMENT: usize = 64;

/// Zeros after a name of `name_len` bytes that put the data at a multiple of [`DATA_ALIGNMENT`].
fn padding_len(name_len: usize) -> usize {
    let unpadded = FIXED_HEADER_LEN + name_len + 8;
    (DATA_ALIGNMENT - unpadded % DATA_ALIGNMENT) % DATA_ALIGNMENT
}

/// How feature values are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SampleFormat {
    /// 32-bit floats: exact.
    #[default]
    F32,
    /// 16-bit floats: half the size, about 3 significant digits.
    F16,
    /// 8-bit integers scaled per frame: a quarter of the size, 1/127 of each frame's largest value.
    Int8,
}

impl SampleFormat {
    fn code(self) -> u16 {
        match self {
            SampleFormat::F32 => 0,
            SampleFormat::F16 => 1,
            SampleFormat::Int8 => 2,
        }
    }

    fn from_code(code: u16) -> Option<Self> {
        match code {
            0 => Some(SampleFormat::F32),
            1 => Some(SampleFormat::F16),
            2 => Some(SampleFormat::Int8),
            _ => None,
        }
    }

    /// Bytes of data for `frames` frames of `dim` values.
    fn data_len(self, frames: u64, dim: u64) -> Option<u64> {
        let values = frames.checked_mul(dim)?;
        match self {
            SampleFormat::F32 => values.checked_mul(4),
            SampleFormat::F16 => values.checked_mul(2),
            SampleFormat::Int8 => frames.checked_mul(4)?.checked_add(values),
        }
    }
}

impl std::str::FromStr for SampleFormat {
    type Err = ReferenceFileError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "f32" => Ok(SampleFormat::F32),
            "f16" => Ok(SampleFormat::F16),
            "int8" => Ok(SampleFormat::Int8),
            _ => Err(ReferenceFileError::BadHeader {
                field: "format",
                detail: format!("'{text}' is not one of f32, f16, int8"),
            }),
        }
    }
}

/// What is wrong with a reference file.
#[derive(Debug, Error, PartialEq)]
pub enum ReferenceFileError {
    /// The file does not start like a reference file.
    #[error("not a warpflow reference file (it does not start with the .wfr signature)")]
    NotAReferenceFile,
    /// A version this build cannot read.
    #[error("reference file version {found}; this build reads versions {UNALIGNED_VERSION} and {VERSION}")]
    UnsupportedVersion {
        /// The file's version.
        found: u16,
    },
    /// Fewer bytes than the header says.
    #[error("reference file is truncated: {actual} bytes, the header needs {expected}")]
    Truncated {
        /// Bytes the file should have.
        expected: u64,
        /// Bytes it has.
        actual: u64,
    },
    /// A checksum does not match.
    #[error("reference file is corrupt: the {part} checksum is {stored:08x}, the bytes give {computed:08x}")]
    Corrupt {
        /// `header` or `data`.
        part: &'static str,
        /// Checksum in the file.
        stored: u32,
        /// Checksum of the bytes there.
        computed: u32,
    },
    /// The file was made with other encoder settings than the run's.
    #[error("reference file was made with {field} {file}, this run uses {run}; make it again with `warpflow encode-ref` and the run's settings")]
    Mismatch {
        /// What differs.
        field: &'static str,
        /// The file's value.
        file: String,
        /// The run's value.
        run: String,
    },
    /// A header field holds a value that cannot be right.
    #[error("reference file header: {field} {detail}")]
    BadHeader {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The data is not the whole frames the header describes.
    #[error("reference file data: {source}")]
    BadData {
        /// What the frames' check found.
        #[from]
        source: FeatureValuesError,
    },
}

/// A decoded reference file.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceFile {
    /// Name of the encoder that made the features (`logmel`, `chroma`, …).
    pub encoder: String,
    /// The encoder's framing.
    pub params: AudioFrameParams,
    /// Length of the recording.
    pub duration_ns: u64,
    /// How the values were stored.
    pub format: SampleFormat,
    /// The features, as 32-bit floats whatever the storage.
    pub features: FeatureValues,
}

impl ReferenceFile {
    /// The file's bytes, with the values stored as `self.format`.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ReferenceFileError> {
        let name = self.encoder.as_bytes();
        if name.len() > MAX_NAME_LEN {
            return Err(ReferenceFileError::BadHeader {
                field: "encoder name",
                detail: format!("is {} bytes long, at most {MAX_NAME_LEN}", name.len()),
            });
        }
        let (frames, dim) = (self.features.len(), self.features.dim());
        let mut bytes = Vec::with_capacity(FIXED_HEADER_LEN + name.len() + 8 + frames * dim * 4);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&self.format.code().to_le_bytes());
        bytes.extend_from_slice(&(dim as u32).to_le_bytes());
        bytes.extend_from_slice(&(frames as u64).to_le_bytes());
        bytes.extend_from_slice(&self.params.rate_hz.to_le_bytes());
        bytes.extend_from_slice(&(self.params.frame_len as u32).to_le_bytes());
        bytes.extend_from_slice(&(self.params.hop_len as u32).to_le_bytes());
        bytes.extend_from_slice(&self.duration_ns.to_le_bytes());
        bytes.extend_from_slice(&(name.len() as u16).to_le_bytes());
        bytes.extend_from_slice(name);
        bytes.resize(bytes.len() + padding_len(name.len()), 0);
        let header_crc = crc32fast::hash(&bytes);
        let data = self.data_bytes();
        bytes.extend_from_slice(&header_crc.to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&data).to_le_bytes());
        bytes.extend_from_slice(&data);
        Ok(bytes)
    }

    fn data_bytes(&self) -> Vec<u8> {
        // Borrowed, not copied, for the f32 features a reference is encoded to.
        let values = self.features.rows().as_f32(self.features.dim());
        let frames = values.chunks_exact(self.features.dim());
        match self.format {
            SampleFormat::F32 => frames.flatten().flat_map(|v| v.to_le_bytes()).collect(),
            SampleFormat::F16 => frames.flatten().flat_map(|&v| f16::from_f32(v).to_le_bytes()).collect(),
            SampleFormat::Int8 => {
                let scales: Vec<f32> = frames
                    .clone()
                    .map(|frame| frame.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 127.0)
                    .collect();
                let mut data: Vec<u8> = scales.iter().flat_map(|s| s.to_le_bytes()).collect();
                for (frame, &scale) in frames.zip(&scales) {
                    data.extend(frame.iter().map(|&v| {
                        let q = if scale > 0.0 {
                            (v / scale).round().clamp(-127.0, 127.0)
                        } else {
                            0.0
                        };
                        (q as i8) as u8
                    }));
                }
                data
            }
        }
    }

    /// Reads a reference file's bytes, checking everything first.
    pub fn parse(bytes: &[u8]) -> Result<Self, ReferenceFileError> {
        let layout = Layout::read(bytes)?;
        let data = &bytes[layout.data.clone()];
        let values = decode_values(layout.format, data, layout.frames, layout.dim);
        let features = FeatureValues::new(layout.dim, values)?;
        layout.into_file(features)
    }

    /// Reads a memory-mapped reference file, checking everything first as [`Self::parse`]
    /// does. The values are read in place from the mapping in their own encoding, f32, f16 or
    /// int8 ([`FeatureValues::is_shared`]); files of version 1, whose data may not be aligned,
    /// are decoded into memory.
    pub fn from_mapped(file: Arc<MappedFile>) -> Result<Self, ReferenceFileError> {
        let layout = Layout::read(file.bytes())?;
        let encoding = match layout.format {
            SampleFormat::F32 => MappedEncoding::F32,
            SampleFormat::F16 => MappedEncoding::F16,
            SampleFormat::Int8 => MappedEncoding::Int8 { frames: layout.frames },
        };
        let in_place = MappedValues::new(file.clone(), layout.data.clone(), encoding);
        let features = match in_place {
            Some(values) => FeatureValues::from_shared(layout.dim, Arc::new(values)),
            None => {
                let data = &file.bytes()[layout.data.clone()];
                FeatureValues::new(
                    layout.dim,
                    decode_values(layout.format, data, layout.frames, layout.dim),
                )
            }
        }?;
        layout.into_file(features)
    }
}

/// A checked header and where its data lies.
struct Layout {
    encoder: String,
    params: AudioFrameParams,
    duration_ns: u64,
    format: SampleFormat,
    dim: usize,
    frames: usize,
    data: Range<usize>,
}

/// The fields before the data, their checksum verified; nothing of the data is read.
struct Header {
    format_code: u16,
    dim: u32,
    frames: u64,
    framing: (u32, u32, u32),
    duration_ns: u64,
    encoder: String,
    data_crc: u32,
    /// Where the data starts.
    end: usize,
}

impl Header {
    fn read(bytes: &[u8]) -> Result<Self, ReferenceFileError> {
        let mut reader = Reader { bytes, at: 0 };
        if reader.take(MAGIC.len()) != Some(MAGIC.as_slice()) {
            return Err(ReferenceFileError::NotAReferenceFile);
        }
        let version = reader.u16()?;
        if version != VERSION && version != UNALIGNED_VERSION {
            return Err(ReferenceFileError::UnsupportedVersion { found: version });
        }
        let format_code = reader.u16()?;
        let (dim, frames) = (reader.u32()?, reader.u64()?);
        let (rate_hz, frame_len, hop_len) = (reader.u32()?, reader.u32()?, reader.u32()?);
        let duration_ns = reader.u64()?;
        let name_len = usize::from(reader.u16()?);
        if name_len > MAX_NAME_LEN {
            return Err(bad(
                "encoder name",
                format!("is {name_len} bytes long, at most {MAX_NAME_LEN}"),
            ));
        }
        let name = reader.take(name_len).ok_or_else(|| reader.truncated(name_len as u64))?;
        if version == VERSION {
            let padding = padding_len(name_len);
            reader.take(padding).ok_or_else(|| reader.truncated(padding as u64))?;
        }
        let header_end = reader.at;
        let (header_crc, data_crc) = (reader.u32()?, reader.u32()?);
        let computed = crc32fast::hash(&bytes[..header_end]);
        if computed != header_crc {
            return Err(ReferenceFileError::Corrupt {
                part: "header",
                stored: header_crc,
                computed,
            });
        }
        let encoder = std::str::from_utf8(name)
            .map_err(|_| bad("encoder name", "is not UTF-8".to_owned()))?
            .to_owned();
        Ok(Self {
            format_code,
            dim,
            frames,
            framing: (rate_hz, frame_len, hop_len),
            duration_ns,
            encoder,
            data_crc,
            end: reader.at,
        })
    }
}

impl Layout {
    /// Checks the header and the data's size and checksum; allocates nothing the header asks for.
    fn read(bytes: &[u8]) -> Result<Self, ReferenceFileError> {
        let Header {
            format_code,
            dim,
            frames,
            framing: (rate_hz, frame_len, hop_len),
            duration_ns,
            encoder,
            data_crc,
            end,
        } = Header::read(bytes)?;
        let format = SampleFormat::from_code(format_code)
            .ok_or_else(|| bad("format", format!("{format_code} is not 0 (f32), 1 (f16) or 2 (int8)")))?;
        if dim == 0 {
            return Err(bad("dim", "is 0; frames need at least one value".to_owned()));
        }
        let params = AudioFrameParams {
            rate_hz,
            frame_len: frame_len as usize,
            hop_len: hop_len as usize,
            history_len: 0,
        };
        params
            .validate()
            .map_err(|error| bad("framing", format!("cannot work: {error}")))?;
        // The frames cover the recording: a duration far past them is no recording's (a second
        // of slack for whatever the last window left out).
        let covered_ns = ((frames as f64 + 1.0) * hop_len as f64 + frame_len as f64) * 1e9 / f64::from(rate_hz) + 1e9;
        if duration_ns as f64 > covered_ns {
            return Err(bad(
                "duration",
                format!("is {duration_ns} ns, more than the {frames} frames cover ({covered_ns:.0} ns at most)"),
            ));
        }
        let data_len = format
            .data_len(frames, u64::from(dim))
            .ok_or_else(|| bad("frames", format!("{frames} × {dim} values overflow")))?;
        let available = (bytes.len() - end) as u64;
        if available != data_len {
            return Err(ReferenceFileError::Truncated {
                expected: end as u64 + data_len,
                actual: bytes.len() as u64,
            });
        }
        let data = end..bytes.len();
        let computed = crc32fast::hash(&bytes[data.clone()]);
        if computed != data_crc {
            return Err(ReferenceFileError::Corrupt {
                part: "data",
                stored: data_crc,
                computed,
            });
        }
        Ok(Self {
            encoder,
            params,
            duration_ns,
            format,
            dim: dim as usize,
            // The data's length matched, so the count fits in memory.
            frames: frames as usize,
            data,
        })
    }

    /// The file, once its features are in hand; refuses values that are not finite.
    fn into_file(self, features: FeatureValues) -> Result<ReferenceFile, ReferenceFileError> {
        if (0..features.len()).any(|k| features.frame(k).iter().any(|v| !v.is_finite())) {
            return Err(bad("data", "holds values that are not finite".to_owned()));
        }
        Ok(ReferenceFile {
            encoder: self.encoder,
            params: self.params,
            duration_ns: self.duration_ns,
            format: self.format,
            features,
        })
    }
}

impl ReferenceFile {
    /// The encoder name the header of the reference file `bytes` records (`logmel-flux`,
    /// `logmel+thumbnail:16*0.5`, `model:NAME:CRC`), the header checked; the data is not read.
    pub fn encoder_in(bytes: &[u8]) -> Result<String, ReferenceFileError> {
        Header::read(bytes).map(|header| header.encoder)
    }

    /// Checks that the features were made by encoder `encoder` with framing `params` and
    /// `dim` values per frame, as the run would make them.
    pub fn check_made_like(
        &self,
        encoder: &str,
        params: AudioFrameParams,
        dim: usize,
    ) -> Result<(), ReferenceFileError> {
        let mismatch = |field, file: String, run: String| Err(ReferenceFileError::Mismatch { field, file, run });
        if self.encoder != encoder {
            return mismatch("encoder", format!("'{}'", self.encoder), format!("'{encoder}'"));
        }
        if !self.params.windows_match(&params) {
            let show = |p: AudioFrameParams| {
                format!(
                    "{} Hz, {}-sample frames every {} samples",
                    p.rate_hz, p.frame_len, p.hop_len
                )
            };
            return mismatch("framing", show(self.params), show(params));
        }
        if self.features.dim() != dim {
            return mismatch("dimension", self.features.dim().to_string(), dim.to_string());
        }
        Ok(())
    }
}

fn bad(field: &'static str, detail: String) -> ReferenceFileError {
    ReferenceFileError::BadHeader { field, detail }
}

/// The values of checked data, as 32-bit floats.
fn decode_values(format: SampleFormat, data: &[u8], frames: usize, dim: usize) -> Vec<f32> {
    match format {
        SampleFormat::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        SampleFormat::F16 => data
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        SampleFormat::Int8 => {
            let (scales, values) = data.split_at(frames * 4);
            let scales: Vec<f32> = scales
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            values
                .chunks_exact(dim.max(1))
                .zip(&scales)
                .flat_map(|(frame, &scale)| frame.iter().map(move |&b| f32::from(b as i8) * scale))
                .collect()
        }
    }
}

/// Reads fields in order, never past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let taken = self.bytes.get(self.at..self.at.checked_add(len)?)?;
        self.at += len;
        Some(taken)
    }

    fn truncated(&self, needed: u64) -> ReferenceFileError {
        ReferenceFileError::Truncated {
            expected: self.at as u64 + needed,
            actual: self.bytes.len() as u64,
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ReferenceFileError> {
        let taken = self.take(N).ok_or_else(|| self.truncated(N as u64))?;
        let mut out = [0u8; N];
        out.copy_from_slice(taken);
        Ok(out)
    }

    fn u16(&mut self) -> Result<u16, ReferenceFileError> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Result<u32, ReferenceFileError> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, ReferenceFileError> {
        self.array().map(u64::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(format: SampleFormat) -> ReferenceFile {
        let values: Vec<f32> = (0..7 * 5).map(|k| ((k * 37 % 23) as f32 - 11.0) / 3.0).collect();
        ReferenceFile {
            encoder: "logmel".to_owned(),
            params: AudioFrameParams {
                rate_hz: 22_050,
                frame_len: 2048,
                hop_len: 441,
                history_len: 0,
            },
            duration_ns: 1_234_567_890,
            format,
            features: FeatureValues::new(5, values).unwrap(),
        }
    }

    #[test]
    fn round_trips_in_every_format() {
        for (format, tolerance) in [
            (SampleFormat::F32, 0.0),
            (SampleFormat::F16, 2e-3),
            (SampleFormat::Int8, 1.0 / 127.0),
        ] {
            let file = sample(format);
            let read = ReferenceFile::parse(&file.to_bytes().unwrap()).unwrap();
            assert_eq!(
                (&read.encoder, read.params, read.duration_ns, read.format),
                (&file.encoder, file.params, file.duration_ns, format)
            );
            for k in 0..file.features.len() {
                let largest = file.features.frame(k).iter().fold(0.0f32, |m, v| m.max(v.abs()));
                for (a, b) in file.features.frame(k).iter().zip(read.features.frame(k).iter()) {
                    assert!(
                        (a - b).abs() <= tolerance * largest.max(1.0),
                        "{format:?}: {a} read as {b}"
                    );
                }
            }
        }
    }

    fn mapped(bytes: &[u8]) -> Result<ReferenceFile, ReferenceFileError> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, bytes).unwrap();
        ReferenceFile::from_mapped(Arc::new(MappedFile::open(file.path()).unwrap()))
    }

    #[test]
    fn mapped_files_are_read_in_place_in_every_format() {
        for format in [SampleFormat::F32, SampleFormat::F16, SampleFormat::Int8] {
            let bytes = sample(format).to_bytes().unwrap();
            let read = mapped(&bytes).unwrap();
            assert_eq!(read, ReferenceFile::parse(&bytes).unwrap(), "{format:?}");
            assert!(read.features.is_shared(), "{format:?}");
            assert_eq!(read.features.rows().is_f32(), format == SampleFormat::F32, "{format:?}");
        }
        let mut damaged = sample(SampleFormat::F32).to_bytes().unwrap();
        let last = damaged.len() - 1;
        damaged[last] ^= 0x40;
        assert!(matches!(
            mapped(&damaged),
            Err(ReferenceFileError::Corrupt { part: "data", .. })
        ));
        assert_eq!(mapped(b""), Err(ReferenceFileError::NotAReferenceFile));
    }

    #[test]
    fn the_encoder_name_is_read_from_the_header_alone() {
        let file = sample(SampleFormat::F16);
        let mut bytes = file.to_bytes().unwrap();
        // Damaged data leaves the header's name readable; a damaged header does not.
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        assert_eq!(ReferenceFile::encoder_in(&bytes), Ok(file.encoder.clone()));
        bytes[MAGIC.len() + 4] ^= 0x01;
        assert!(matches!(
            ReferenceFile::encoder_in(&bytes),
            Err(ReferenceFileError::Corrupt { part: "header", .. })
        ));
        assert_eq!(
            ReferenceFile::encoder_in(b"WFR"),
            Err(ReferenceFileError::NotAReferenceFile)
        );
    }

    #[test]
    fn data_is_aligned_for_any_name_and_version_1_files_still_read() {
        for name in ["", "chroma", "logmel-flux", &"x".repeat(MAX_NAME_LEN)] {
            let file = ReferenceFile {
                encoder: name.to_owned(),
                ..sample(SampleFormat::F32)
            };
            let bytes = file.to_bytes().unwrap();
            let data_len = file.features.len() * file.features.dim() * 4;
            assert_eq!((bytes.len() - data_len) % DATA_ALIGNMENT, 0, "name '{name}'");
            assert_eq!(ReferenceFile::parse(&bytes).unwrap(), file);
            // The same file as version 1 wrote it: no padding.
            let header_end = FIXED_HEADER_LEN + name.len();
            let mut old = bytes[..header_end].to_vec();
            old[8..10].copy_from_slice(&UNALIGNED_VERSION.to_le_bytes());
            old.extend_from_slice(&crc32fast::hash(&old).to_le_bytes());
            let data_start = bytes.len() - data_len;
            old.extend_from_slice(&bytes[data_start - 4..]);
            assert_eq!(ReferenceFile::parse(&old).unwrap(), file);
            assert_eq!(mapped(&old).unwrap(), file);
        }
    }

    #[test]
    fn truncated_and_damaged_files_are_refused_with_the_reason() {
        let bytes = sample(SampleFormat::F32).to_bytes().unwrap();
        assert_eq!(
            ReferenceFile::parse(b"RIFF....WAVE"),
            Err(ReferenceFileError::NotAReferenceFile)
        );
        assert!(matches!(
            ReferenceFile::parse(&bytes[..bytes.len() - 3]),
            Err(ReferenceFileError::Truncated { .. })
        ));
        let mut damaged = bytes.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 0x40;
        assert!(matches!(
            ReferenceFile::parse(&damaged),
            Err(ReferenceFileError::Corrupt { part: "data", .. })
        ));
        let mut damaged = bytes;
        damaged[20] ^= 1;
        assert!(matches!(
            ReferenceFile::parse(&damaged),
            Err(ReferenceFileError::Corrupt { part: "header", .. })
        ));
    }

    #[test]
    fn a_duration_the_frames_do_not_cover_is_refused_though_the_checksums_hold() {
        let file = ReferenceFile {
            duration_ns: u64::MAX,
            ..sample(SampleFormat::F32)
        };
        let error = ReferenceFile::parse(&file.to_bytes().unwrap()).unwrap_err().to_string();
        assert!(error.contains("duration"), "{error}");
    }

    #[test]
    fn a_file_made_otherwise_is_refused_with_both_settings() {
        let file = sample(SampleFormat::F32);
        assert_eq!(file.check_made_like("logmel", file.params, 5), Ok(()));
        let error = file.check_made_like("chroma", file.params, 5).unwrap_err().to_string();
        assert!(error.contains("'logmel'") && error.contains("'chroma'"), "{error}");
        let other = AudioFrameParams {
            hop_len: 512,
            history_len: 0,
            ..file.params
        };
        assert!(matches!(
            file.check_made_like("logmel", other, 5),
            Err(ReferenceFileError::Mismatch { field: "framing", .. })
        ));
        assert!(matches!(
            file.check_made_like("logmel", file.params, 12),
            Err(ReferenceFileError::Mismatch { field: "dimension", .. })
        ));
    }

    proptest! {
        /// Any bytes at all: an error or a file, never a panic (nor a huge allocation).
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ReferenceFile::parse(&bytes);
        }

        /// A valid file with arbitrary bytes after its signature changed or cut off is refused,
        /// or, where the change cancels out, reads as before, whether parsed or mapped and read
        /// in place.
        #[test]
        fn every_damage_is_caught(
            format in prop_oneof![Just(SampleFormat::F32), Just(SampleFormat::F16), Just(SampleFormat::Int8)],
            changes in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in proptest::option::of(any::<prop::sample::Index>()),
        ) {
            let file = sample(format);
            let mut bytes = file.to_bytes().unwrap();
            let original = ReferenceFile::parse(&bytes).unwrap();
            for (at, value) in changes {
                let at = at.index(bytes.len());
                bytes[at] ^= value;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len()));
            }
            let parsed = ReferenceFile::parse(&bytes);
            if let Ok(read) = &parsed {
                prop_assert_eq!(read, &original);
            }
            prop_assert_eq!(mapped(&bytes), parsed);
        }
    }
}
