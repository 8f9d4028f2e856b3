//! Log-compressed filterbank energies: each frame's power spectrum summed through a filterbank
//! (mel bands, semitone bands or the twelve pitch classes) and compressed as
//! `ln(1 + LOG_GAIN · energy)`, one row per frame.
//!
//! Every band feature of the project is this one pass with another filterbank, so it lives
//! here once: [`LogFilterbank`] is the tensor pass, and [`LogBands`] makes it an
//! [`AudioEncoder`] that keeps no state, so that a worker's streams can share one. This module
//! owns the filterbank tensors; the filterbanks' weights come from `mel`, `semitone` and
//! `chroma`, and what is done with the bands (rise, unit length) belongs to the callers.

use tch::{Device, Kind, Tensor};

use super::audio_encoder::AudioEncoder;
use super::chroma::chroma_filterbank;
use super::device::in_audio_passes;
use super::error::torch;
use super::mel::mel_filterbank;
use super::semitone::{
    semitone_filterbank, semitone_filterbank_part, LONG_WINDOW_BELOW_MIDI, LONG_WINDOW_FRAMES, LOWEST_MIDI,
    SEMITONE_BANDS,
};
use super::spectrum::PowerSpectrum;
use super::{AudioFrameParams, EncodeError, LOG_GAIN};

/// Lowest frequency that counts towards chroma; below it pitch is not resolved.
const CHROMA_FMIN_HZ: f64 = 55.0;

/// Which filterbank sums the power spectrum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filterbank {
    /// `bands` mel bands (Slaney's scale, unit area) from 0 Hz to the Nyquist frequency.
    Mel {
        /// Number of mel bands.
        bands: usize,
    },
    /// One band per semitone, C1 to B7.
    Semitone,
    /// One band per semitone, C1 to B7, those below C4 from a window
    /// [`LONG_WINDOW_FRAMES`] frames long that ends with the frame (see `semitone`).
    SemitoneLows,
    /// The twelve pitch classes, C first, from 55 Hz up.
    Chroma,
}

impl Filterbank {
    /// Number of bands.
    pub fn bands(self) -> usize {
        match self {
            Self::Mel { bands } => bands,
            Self::Semitone | Self::SemitoneLows => SEMITONE_BANDS,
            Self::Chroma => 12,
        }
    }

    /// `params` with the samples before each frame that this filterbank also takes.
    pub fn framing(self, params: AudioFrameParams) -> AudioFrameParams {
        let history_len = match self {
            Self::SemitoneLows => (LONG_WINDOW_FRAMES - 1) * params.frame_len,
            Self::Mel { .. } | Self::Semitone | Self::Chroma => 0,
        };
        AudioFrameParams { history_len, ..params }
    }

    /// `[bands, frame_len/2 + 1]` row-major weights for frames framed by `params`.
    fn weights(self, params: AudioFrameParams) -> Vec<f32> {
        let (rate_hz, frame_len) = (params.rate_hz, params.frame_len);
        match self {
            Self::Mel { bands } => mel_filterbank(rate_hz, frame_len, bands, 0.0, f64::from(rate_hz) / 2.0),
            Self::Semitone => semitone_filterbank(rate_hz, frame_len, LOWEST_MIDI, SEMITONE_BANDS),
            Self::SemitoneLows => {
                semitone_filterbank_part(rate_hz, frame_len, Self::first_short_band()..SEMITONE_BANDS, 1.0)
            }
            Self::Chroma => chroma_filterbank(rate_hz, frame_len, CHROMA_FMIN_HZ),
        }
    }

    /// `[bands, span_len/2 + 1]` weights over the whole span's spectrum, for the bands that
    /// take it; `None` for filterbanks of the frame alone. A tone's power summed over its bins
    /// grows with the window's length, so the weights are scaled back to the frame's.
    fn span_weights(self, params: AudioFrameParams) -> Option<Vec<f32>> {
        let span_len = params.span_len();
        match self {
            Self::SemitoneLows => Some(semitone_filterbank_part(
                params.rate_hz,
                span_len,
                0..Self::first_short_band(),
                (params.frame_len as f64 / span_len as f64) as f32,
            )),
            Self::Mel { .. } | Self::Semitone | Self::Chroma => None,
        }
    }

    /// The lowest band `SemitoneLows` takes from the frame's own window.
    fn first_short_band() -> usize {
        LONG_WINDOW_BELOW_MIDI - LOWEST_MIDI
    }

    /// The encoder's name: streams whose encoders share a name share their batches.
    fn encoder_name(self) -> String {
        match self {
            Self::Mel { bands } => format!("logmel-bands{bands}"),
            Self::Semitone => format!("semitone-bands{SEMITONE_BANDS}"),
            Self::SemitoneLows => format!("semitone-bands{SEMITONE_BANDS}-lows{LONG_WINDOW_FRAMES}"),
            Self::Chroma => "chroma-bands12".to_owned(),
        }
    }

    /// What a failing tensor op was computing, for the error.
    fn computing(self) -> &'static str {
        match self {
            Self::Mel { .. } => "computing log-mel energies",
            Self::Semitone | Self::SemitoneLows => "computing semitone bands",
            Self::Chroma => "computing chroma",
        }
    }
}

/// A filterbank on one device, applied to batches of frames.
#[derive(Debug)]
pub(crate) struct LogFilterbank {
    filterbank: Filterbank,
    /// The frame's own window, and the spectrum over each frame's whole span when some bands
    /// take it.
    spectrum: PowerSpectrum,
    filters_t: Tensor,
    span: Option<SpanPass>,
    frame_len: usize,
}

/// The bands taken from each frame's whole span: its spectrum up to the highest bin they
/// weigh (a few hundred hertz of a spectrum to the Nyquist frequency), and their weights there.
#[derive(Debug)]
struct SpanPass {
    spectrum: PowerSpectrum,
    bins: usize,
    filters_t: Tensor,
}

impl SpanPass {
    /// From `[bands, span_len/2 + 1]` row-major `weights`.
    fn new(weights: &[f32], bands: usize, span_len: usize, device: Device) -> Result<Self, EncodeError> {
        let spectrum = PowerSpectrum::new(span_len, device)?;
        let all_bins = spectrum.bins();
        let bins = weights
            .chunks_exact(all_bins)
            .filter_map(|row| row.iter().rposition(|&weight| weight != 0.0))
            .max()
            .map_or(1, |last| last + 1);
        let kept: Vec<f32> = weights
            .chunks_exact(all_bins)
            .flat_map(|row| row[..bins].iter().copied())
            .collect();
        Ok(Self {
            filters_t: filters_tensor(&kept, bands, bins, device)?,
            spectrum,
            bins,
        })
    }

    /// `[count, bands]` energies of `[count, span_len]` spans.
    fn energies(&self, spans: &Tensor) -> Result<Tensor, EncodeError> {
        self.spectrum
            .power_below(spans, self.bins)?
            .f_matmul(&self.filters_t)
            .map_err(torch("computing semitone bands over the span"))
    }
}

/// `[bins, bands]` on `device` from `[bands, bins]` row-major `weights`.
fn filters_tensor(weights: &[f32], bands: usize, bins: usize, device: Device) -> Result<Tensor, EncodeError> {
    Tensor::f_from_slice(weights)
        .and_then(|t| t.f_view([bands as i64, bins as i64]))
        .and_then(|t| t.f_transpose(0, 1))
        .and_then(|t| t.f_contiguous())
        .map(|t| t.to_device(device).to_kind(Kind::Float))
        .map_err(torch("building a filterbank"))
}

impl LogFilterbank {
    /// `filterbank` for frames framed by `params` (with the history it takes, whatever
    /// `params` says), on `device`.
    pub(crate) fn new(filterbank: Filterbank, params: AudioFrameParams, device: Device) -> Result<Self, EncodeError> {
        let params = filterbank.framing(params);
        params.validate()?;
        let bands = filterbank.bands();
        let spectrum = PowerSpectrum::new(params.frame_len, device)?;
        let filters_t = filters_tensor(&filterbank.weights(params), bands, spectrum.bins(), device)?;
        let span = match filterbank.span_weights(params) {
            Some(weights) => Some(SpanPass::new(&weights, bands, params.span_len(), device)?),
            None => None,
        };
        Ok(Self {
            filterbank,
            spectrum,
            filters_t,
            span,
            frame_len: params.frame_len,
        })
    }

    pub(crate) fn bands(&self) -> usize {
        self.filterbank.bands()
    }

    pub(crate) fn device(&self) -> Device {
        self.spectrum.device()
    }

    /// `[count, bands]` log energies of row-major frames (each its history, then the frame:
    /// `span_len` samples), on the filterbank's device.
    pub(crate) fn log_energies(&self, frames: &[f32]) -> Result<Tensor, EncodeError> {
        let energies = match &self.span {
            None => {
                let power = self.spectrum.power(&self.spectrum.frames_tensor(frames)?)?;
                power.f_matmul(&self.filters_t)
            }
            Some(span) => {
                let spans = span.spectrum.frames_tensor(frames)?;
                let span_len = spans.size()[1];
                let own = spans
                    .f_narrow(1, span_len - self.frame_len as i64, self.frame_len as i64)
                    .map_err(torch("taking each frame from its span"))?;
                let span_energies = span.energies(&spans)?;
                self.spectrum
                    .power(&own)?
                    .f_matmul(&self.filters_t)
                    .and_then(|bands| bands.f_add(&span_energies))
            }
        };
        energies
            .and_then(|bands| (bands * LOG_GAIN).f_log1p())
            .map_err(torch(self.filterbank.computing()))
    }
}

/// Log filterbank energies as rows of `bands` values per frame: an [`AudioEncoder`] with no
/// memory of its stream.
#[derive(Debug)]
pub struct LogBands {
    params: AudioFrameParams,
    filterbank: LogFilterbank,
}

impl LogBands {
    /// `filterbank`'s bands for frames framed by `params` (with the history the filterbank
    /// takes), on `device`.
    pub fn new(filterbank: Filterbank, params: AudioFrameParams, device: Device) -> Result<Self, EncodeError> {
        Ok(Self {
            params: filterbank.framing(params),
            filterbank: LogFilterbank::new(filterbank, params, device)?,
        })
    }

    fn encode_pass(&self, frames: &[f32], rows: &mut Vec<f32>) -> Result<(), EncodeError> {
        tch::no_grad(|| {
            let bands = self
                .filterbank
                .log_energies(frames)?
                .to_device(Device::Cpu)
                .reshape([-1]);
            rows.extend(Vec::<f32>::try_from(&bands).map_err(torch("reading filterbank bands back"))?);
            Ok(())
        })
    }
}

impl AudioEncoder for LogBands {
    fn name(&self) -> String {
        self.filterbank.filterbank.encoder_name()
    }

    fn params(&self) -> AudioFrameParams {
        self.params
    }

    fn dim(&self) -> usize {
        self.filterbank.bands()
    }

    fn device(&self) -> Device {
        self.filterbank.device()
    }

    fn encode(&mut self, frames: &[f32], rows: &mut Vec<f32>) -> Result<(), EncodeError> {
        let device = self.device();
        in_audio_passes(frames, self.params.span_len(), device, |part| {
            self.encode_pass(part, rows)
        })
    }

    fn reset(&mut self) -> Result<(), EncodeError> {
        Ok(())
    }

    fn is_stateless(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: AudioFrameParams = AudioFrameParams {
        rate_hz: 22_050,
        frame_len: 2048,
        hop_len: 441,
        history_len: 0,
    };

    fn tone(hz: f32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|n| 0.5 * (2.0 * std::f32::consts::PI * hz * n as f32 / PARAMS.rate_hz as f32).sin())
            .collect()
    }

    fn bands_of_tone(filterbank: Filterbank, hz: f32) -> Vec<f32> {
        let mut rows = Vec::new();
        let mut bands = LogBands::new(filterbank, PARAMS, Device::Cpu).unwrap();
        let span_len = bands.params().span_len();
        bands.encode(&tone(hz, span_len), &mut rows).unwrap();
        rows
    }

    fn loudest_band(filterbank: Filterbank, hz: f32) -> usize {
        let rows = bands_of_tone(filterbank, hz);
        assert_eq!(rows.len(), filterbank.bands());
        rows.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0
    }

    #[test]
    fn a_tone_is_loudest_in_its_own_semitone() {
        // A4 (MIDI 69), its neighbours a semitone either side, and C7 (MIDI 96).
        for (hz, midi) in [(440.0, 69), (415.3, 68), (466.16, 70), (2093.0, 96)] {
            assert_eq!(loudest_band(Filterbank::Semitone, hz), midi - LOWEST_MIDI, "{hz} Hz");
        }
    }

    #[test]
    fn the_long_window_parts_low_notes_a_semitone_apart() {
        // G2 and A♭2 (MIDI 43 and 44), 6 Hz apart, where the frame's own bins are 10.8 Hz
        // apart: its bands two semitones above the note hold nearly the note's level, the long
        // window's far less, and each note is loudest in its own band.
        for (hz, midi) in [(98.0, 43), (103.83, 44)] {
            let band = midi - LOWEST_MIDI;
            let own = bands_of_tone(Filterbank::Semitone, hz);
            let long = bands_of_tone(Filterbank::SemitoneLows, hz);
            assert!(
                own[band] - own[band + 2] < 3.0,
                "{hz} Hz, own window: {:?}",
                &own[band - 2..=band + 2]
            );
            assert!(
                long[band] - long[band + 2] > 6.0,
                "{hz} Hz, long window: {:?}",
                &long[band - 2..=band + 2]
            );
            assert_eq!(loudest_band(Filterbank::SemitoneLows, hz), band, "{hz} Hz");
        }
        for (hz, midi) in [(440.0, 69), (2093.0, 96), (196.0, 55)] {
            assert_eq!(
                loudest_band(Filterbank::SemitoneLows, hz),
                midi - LOWEST_MIDI,
                "{hz} Hz"
            );
        }
    }

    #[test]
    fn a_tone_is_loudest_in_its_pitch_class_and_higher_mel_bands_for_higher_tones() {
        assert_eq!(loudest_band(Filterbank::Chroma, 440.0), 9);
        assert_eq!(loudest_band(Filterbank::Chroma, 261.63), 0);
        let mel = Filterbank::Mel { bands: 64 };
        assert!(loudest_band(mel, 300.0) < loudest_band(mel, 3000.0));
    }

    #[test]
    fn silence_gives_zero_in_every_band_and_frames_split_into_rows() {
        let mut rows = Vec::new();
        LogBands::new(Filterbank::Mel { bands: 40 }, PARAMS, Device::Cpu)
            .unwrap()
            .encode(&vec![0.0; 3 * PARAMS.frame_len], &mut rows)
            .unwrap();
        assert_eq!(rows.len(), 3 * 40);
        assert!(rows.iter().all(|&value| value == 0.0));
    }
}
