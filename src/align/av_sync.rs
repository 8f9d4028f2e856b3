//! The A/V offset of a stream from its estimators: events ([`AvLagEstimator`]: flashes against
//! beeps, cuts against bangs) and the region of the picture that follows the sound
//! ([`RegionLagEstimator`]: a mouth, hands on an instrument) or, when the run has a sync model,
//! the agreement of its embedders ([`EmbeddingLagEstimator`]), which then replaces the region's
//! correlation.
//!
//! All see every sample; each estimate takes the surer of the events' and the other's, and
//! events win a tie: a flash-and-beep pattern is exact to a millisecond, while a region's
//! reading rests on how the source moves with its sound. An estimate carries its region only
//! when the region (or the model, looking at the face box or the whole picture) made it.

use super::embedding_lag::{EmbeddingEstimate, EmbeddingLagConfig, EmbeddingLagEstimator};
use super::lag::{AvLagEstimator, LagConfig};
use super::region_lag::{BlockGrid, RegionEstimate, RegionLagConfig, RegionLagEstimator};
use super::speech_weights::SpeechWindow;
use super::AlignError;
use crate::features::NormalisedBox;

/// One estimate of the A/V offset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyncEstimate {
    /// Positive when audio comes later than the video it belongs to.
    pub offset_ns: i64,
    /// How sure the estimator is, in [0, 1].
    pub confidence: f64,
    /// Start of the video span the estimate is made from.
    pub window_start_ns: u64,
    /// End of the video span the estimate is made from.
    pub window_end_ns: u64,
    /// Where in the picture the sound is made, when the estimate rests on a region. Such an
    /// estimate's confidence is calibrated against chance (see [`RegionLagConfig::confidence`]),
    /// and the offset tracker takes it as such.
    pub region: Option<NormalisedBox>,
}

impl From<RegionEstimate> for SyncEstimate {
    fn from(e: RegionEstimate) -> Self {
        Self {
            offset_ns: e.offset_ns,
            confidence: e.confidence,
            window_start_ns: e.window_start_ns,
            window_end_ns: e.window_end_ns,
            region: Some(e.region),
        }
    }
}

/// Both estimators of one stream.
#[derive(Debug)]
pub struct AvSyncEstimator {
    events: AvLagEstimator,
    region: RegionLagEstimator,
    /// A sync model's estimator, which replaces the region's when there is one.
    embeddings: Option<EmbeddingLagEstimator>,
    /// The confidence of the newest events estimate, which a final region estimate must beat.
    events_confidence: Option<f64>,
}

impl AvSyncEstimator {
    /// Estimators with these settings, for pictures cut into `grid`.
    pub fn new(events: LagConfig, region: RegionLagConfig, grid: BlockGrid) -> Result<Self, AlignError> {
        Ok(Self {
            events: AvLagEstimator::new(events)?,
            region: RegionLagEstimator::new(region, grid)?,
            embeddings: None,
            events_confidence: None,
        })
    }

    /// The same, with a sync model's embeddings of `dim` values in place of the region's
    /// correlation.
    pub fn with_embeddings(mut self, config: EmbeddingLagConfig, dim: usize) -> Result<Self, AlignError> {
        self.embeddings = Some(EmbeddingLagEstimator::new(config, dim)?);
        Ok(self)
    }

    /// Adds a sync model's audio embedding of the window centred at `time_ns`.
    pub fn push_audio_embedding(&mut self, time_ns: u64, values: &[f32]) -> Result<(), AlignError> {
        match self.embeddings.as_mut() {
            Some(embeddings) => embeddings.push_audio(time_ns, values),
            None => Ok(()),
        }
    }

    /// Adds a sync model's video embedding of the pictures around `time_ns`.
    pub fn push_video_embedding(&mut self, time_ns: u64, values: &[f32]) -> Result<(), AlignError> {
        match self.embeddings.as_mut() {
            Some(embeddings) => embeddings.push_video(time_ns, values),
            None => Ok(()),
        }
    }

    /// Adds the onset strength (spectral flux) of the audio hop at `time_ns`; times must rise.
    pub fn push_onset(&mut self, time_ns: u64, onset: f32) {
        self.events.push_audio(time_ns, onset);
    }

    /// Adds the level (natural-log power) of the audio hop centred at `time_ns`; times must
    /// rise.
    pub fn push_level(&mut self, time_ns: u64, log_power: f32) {
        self.region.push_audio_level(time_ns, log_power);
    }

    /// Adds the probability of speech over a span, which weighs the events' onsets.
    pub fn push_speech(&mut self, window: SpeechWindow) {
        self.events.push_speech(window);
    }

    /// Adds one frame: how much it brightened since the last (`rise`) and the mean brightness
    /// of each block of the grid.
    pub fn push_video(&mut self, time_ns: u64, rise: f32, blocks: &[f32]) -> Result<(), AlignError> {
        self.events.push_video(time_ns, rise);
        self.region.push_video_blocks(time_ns, blocks)
    }

    /// Says where a face model finds the face in the newest frame, and how sure it is (see
    /// [`RegionLagEstimator::push_face`]).
    pub fn push_face(&mut self, face: NormalisedBox, score: f32) {
        self.region.push_face(face, score);
    }

    /// A sync model's estimate as a [`SyncEstimate`]: it looked at the face box, or at the whole
    /// picture.
    fn model_estimate(&self, e: EmbeddingEstimate) -> SyncEstimate {
        let whole = NormalisedBox {
            x: 0.0,
            y: 0.0,
            width: 1.0,
            height: 1.0,
        };
        SyncEstimate {
            offset_ns: e.offset_ns,
            confidence: e.confidence,
            window_start_ns: e.window_start_ns,
            window_end_ns: e.window_end_ns,
            region: Some(self.region.face().unwrap_or(whole)),
        }
    }

    /// The surer of the two estimators' estimates from everything before `complete_until_ns`
    /// (`u64::MAX` at the end of the stream), or `None` while neither has one.
    pub fn estimate(&mut self, complete_until_ns: u64) -> Option<SyncEstimate> {
        let events = self.events.estimate(complete_until_ns).map(|e| SyncEstimate {
            offset_ns: e.offset_ns,
            confidence: e.confidence,
            window_start_ns: e.window_start_ns,
            window_end_ns: e.window_end_ns,
            region: None,
        });
        let region = match self.embeddings.as_mut() {
            Some(embeddings) => {
                let estimate = embeddings.estimate(complete_until_ns);
                estimate.map(|e| self.model_estimate(e))
            }
            None => self.region.estimate(complete_until_ns).map(SyncEstimate::from),
        };
        if let Some(events) = &events {
            self.events_confidence = Some(events.confidence);
        }
        match (events, region) {
            (Some(events), Some(region)) if region.confidence > events.confidence => Some(region),
            (Some(events), _) => Some(events),
            (None, region) => region,
        }
    }

    /// At the end of the stream, the region estimator's estimate with the frames still waiting
    /// for audio past them (those within `max_lag` of the end meet whatever audio there is);
    /// `None` when no frame was waiting, or when the newest events estimate was surer.
    pub fn final_estimate(&mut self) -> Option<SyncEstimate> {
        let estimate = match self.embeddings.as_mut() {
            Some(embeddings) if embeddings.has_waiting() => {
                let estimate = embeddings.estimate(u64::MAX)?;
                self.model_estimate(estimate)
            }
            Some(_) => return None,
            None if self.region.add_complete_frames(u64::MAX) > 0 => {
                self.region.estimate(u64::MAX).map(SyncEstimate::from)?
            }
            None => return None,
        };
        match self.events_confidence {
            Some(events) if events >= estimate.confidence => None,
            _ => Some(estimate),
        }
    }

    /// Drops everything before `time_ns`: estimates start afresh from there.
    pub fn forget_before(&mut self, time_ns: u64) {
        self.events.forget_before(time_ns);
        self.region.forget_before(time_ns);
        if let Some(embeddings) = self.embeddings.as_mut() {
            embeddings.forget_before(time_ns);
        }
        self.events_confidence = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const GRID: BlockGrid = BlockGrid { columns: 4, rows: 3 };

    #[test]
    fn flashes_and_beeps_keep_the_event_estimate() {
        let mut estimator = AvSyncEstimator::new(LagConfig::default(), RegionLagConfig::default(), GRID).unwrap();
        let frame_ns = 1_000_000_000 / 30;
        for frame in 0..8 * 30u64 {
            let flash = frame % 30 == 0 && frame > 0;
            let brightness = if flash { 1.0 } else { 0.1 };
            estimator
                .push_video(frame * frame_ns, if flash { 0.9 } else { 0.0 }, &[brightness; 12])
                .unwrap();
        }
        for hop in 0..8 * 200u64 {
            let t = hop * 5 * MS;
            let since_beep = (t as i64 - 40 * MS as i64).rem_euclid(1_000 * MS as i64);
            let beep = since_beep < 10 * MS as i64;
            // The onset envelope rises where the beep starts.
            estimator.push_onset(t, if since_beep < 5 * MS as i64 { 8.0 } else { 0.0 });
            estimator.push_level(t, if beep { -2.0 } else { -12.0 });
        }
        let estimate = estimator.estimate(8_000 * MS).expect("an estimate");
        assert!(
            (estimate.offset_ns - 40 * MS as i64).abs() <= 2 * MS as i64,
            "{estimate:?}"
        );
        assert_eq!(estimate.region, None);
    }

    #[test]
    fn no_estimate_without_picture_or_sound() {
        let mut estimator = AvSyncEstimator::new(LagConfig::default(), RegionLagConfig::default(), GRID).unwrap();
        for frame in 0..300u64 {
            estimator.push_video(frame * 33 * MS, 0.0, &[0.4; 12]).unwrap();
        }
        for hop in 0..2_000u64 {
            estimator.push_onset(hop * 5 * MS, 0.0);
            estimator.push_level(hop * 5 * MS, -30.0);
        }
        assert_eq!(estimator.estimate(u64::MAX), None);
        assert!(estimator.push_video(10_000 * MS, 0.0, &[0.4; 5]).is_err());
    }
}
