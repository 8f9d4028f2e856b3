//! How well `locate` finds live snippets: the accuracy harness's cases (built by
//! `scripts/eval.sh`) searched the way `warpflow locate` searches them.
//!
//! Every case's live recording is cut into snippets of each length asked for, starting every
//! `--every-s` seconds, wherever its ground truth (`truth.csv`) is one continuous stretch:
//! tempo warps, performance pairs, and the stretches of the jump and repeat cases on either
//! side of their jump. Each snippet is searched in every distinct reference of the cases (one
//! per recording, the others acting as wrong answers; a case whose live stream is a recording
//! of its own, `live_source` in its `case.json`, leaves that one out, as a library would not
//! hold the performance being looked up; one marked `"in_library": false` is left out
//! altogether) with the subsequence search `locate` uses,
//! ranked by cost per live frame as `locate` ranks its `match` events. A snippet is found when
//! its own reference ranks first; its error is the larger of the match's start and end errors
//! against the truth. A snippet whose passage of the reference comes back elsewhere in it (an
//! introduction returning as a postlude, a verse sung again to the same music) cannot be placed
//! by any search; such snippets are counted, and the share within 1 s is also given over the
//! others (see `music_returns`).
//!
//! Run with: `cargo run --release --example locate_eval -- CASES_DIR [FEATURES] [--[no-]transposition]
//! [--precision auto|f32|int8] [--steps tempo-neutral|slope-limited|symmetric] [--cens WINDOW,HOP] [--query-s 3,5,10]
//! [--every-s 3] [--cost-per-semitone 0.03]` (FEATURES and the key estimate as `locate`'s, with the same
//! defaults: semitone-flux-lows, key estimated; `--precision`, `--steps`, `--cens` and
//! `--cost-per-semitone` as `LocateConfig`'s, default `auto`, `tempo-neutral`, the statistics'
//! default window and hop in frames (`0,0` for the frames as they are) and 0.03). Prints one table row per snippet length and kind of case.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use warpflow::align::{locate_snippet, Distance, FeatureMatrix, LocateConfig, SubsequenceSteps};
use warpflow::encode::AudioFeatureEncoder;
use warpflow::flow::{encode_reference_file, EncodedReference, LocateJob, Transposition, FOLLOW_FRAMES};

/// The ground truth's continuous stretches, each a list of `(live_s, ref_s)` points.
fn truth_stretches(path: &Path) -> Result<Vec<Vec<(f64, f64)>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut stretches: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for line in text.lines().skip(1) {
        let (live, reference) = line
            .split_once(',')
            .with_context(|| format!("{}: '{line}' is not live_s,ref_s", path.display()))?;
        let point: (f64, f64) = (live.parse()?, reference.parse()?);
        let stretch = stretches.last_mut().context("a stretch")?;
        // A jump or a repeat: the reference moves back, or far faster than any tempo.
        let broken = stretch.last().is_some_and(|&(live_s, ref_s)| {
            let (live_step, ref_step) = (point.0 - live_s, point.1 - ref_s);
            ref_step < 0.0 || ref_step > 3.0 * live_step + 0.5
        });
        if broken {
            stretches.push(vec![point]);
        } else {
            stretch.push(point);
        }
    }
    Ok(stretches)
}

/// The reference time at `live_s`, interpolated within the stretch holding it.
fn truth_at(stretch: &[(f64, f64)], live_s: f64) -> Option<f64> {
    let after = stretch.iter().position(|&(t, _)| t >= live_s)?;
    let (t1, r1) = stretch[after];
    if after == 0 {
        return (t1 == live_s).then_some(r1);
    }
    let (t0, r0) = stretch[after - 1];
    Some(r0 + (r1 - r0) * (live_s - t0) / (t1 - t0))
}

struct Case {
    folder: PathBuf,
    /// The case's kind (`case.json`): each is tallied on its own line.
    kind: String,
    source: String,
    live_source: Option<String>,
    live: EncodedReference,
    truth: Vec<Vec<(f64, f64)>>,
}

/// One snippet length's tally.
#[derive(Default)]
struct Tally {
    snippets: usize,
    found: usize,
    errors_s: Vec<f64>,
    search_s: f64,
    /// Snippets whose passage returns elsewhere in the reference ([`music_returns`]).
    returning: usize,
    /// Of the others, those placed within 1 s (their own piece first).
    placed_where_unique: usize,
}

/// Whether the reference's passage `passage` (frames) returns elsewhere in it, so that no
/// search can tell where a snippet of it was played: the passage's own frames match a stretch
/// that does not overlap it as well as `snippet` (the passage played by others) matches the
/// passage, both found the way `locate` finds a snippet. Intros that come back as postludes
/// and verses sung to the same music do; a passage merely like another does not.
fn music_returns(
    snippet: &FeatureMatrix,
    reference: &FeatureMatrix,
    passage: Range<usize>,
    config: &LocateConfig,
) -> Result<bool> {
    let pad = passage.len() / 10;
    let around = passage.start.saturating_sub(pad)..(passage.end + pad).min(reference.len());
    let Some(played) = locate_snippet(snippet, &reference.frames(around)?, config)? else {
        return Ok(false);
    };
    let own = reference.frames(passage.clone())?;
    let elsewhere = [
        0..passage.start.saturating_sub(passage.len()),
        (passage.end + passage.len()).min(reference.len())..reference.len(),
    ];
    for stretch in elsewhere {
        // A slope-limited match needs at least half the passage's length.
        if 2 * stretch.len() < own.len() {
            continue;
        }
        if let Some(found) = locate_snippet(&own, &reference.frames(stretch)?, config)? {
            if found.cost_per_frame <= played.cost_per_frame {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cases_dir, rest) = args.split_first().context(
        "usage: locate_eval CASES_DIR [FEATURES] [--[no-]transposition] [--precision auto|f32|int8] \
         [--steps tempo-neutral|slope-limited|symmetric] [--cens WINDOW,HOP] [--query-s 3,5,10] [--every-s 3] \
         [--cost-per-semitone 0.03]",
    )?;
    let mut features = LocateJob::DEFAULT_FEATURES;
    let mut config = LocateConfig::default();
    let mut query_lengths_s = vec![3.0, 5.0, 10.0];
    let mut every_s = 3.0;
    let mut transposition = Transposition::Auto;
    let mut cens = None;
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--precision" => {
                let value = rest.next().context("--precision needs auto, f32 or int8")?;
                config.precision = value.parse().map_err(anyhow::Error::msg)?;
            }
            "--steps" => {
                config.steps = match rest.next().map(String::as_str) {
                    Some("tempo-neutral") => SubsequenceSteps::TempoNeutral,
                    Some("slope-limited") => SubsequenceSteps::SlopeLimited,
                    Some("symmetric") => SubsequenceSteps::Symmetric,
                    other => bail!("--steps {other:?}: expected tempo-neutral, slope-limited or symmetric"),
                };
            }
            "--query-s" => {
                let value = rest.next().context("--query-s needs seconds, comma-separated")?;
                query_lengths_s = value
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .with_context(|| format!("--query-s '{value}'"))?;
            }
            "--cost-per-semitone" => {
                let value = rest.next().context("--cost-per-semitone needs a share of the cost")?;
                config.cost_per_semitone = value
                    .parse()
                    .with_context(|| format!("--cost-per-semitone '{value}'"))?;
            }
            "--every-s" => {
                let value = rest.next().context("--every-s needs seconds")?;
                every_s = value.parse().with_context(|| format!("--every-s '{value}'"))?;
            }
            "--cens" => {
                let value = rest.next().context("--cens needs WINDOW,HOP frames")?;
                let (window, hop) = value.split_once(',').context("--cens WINDOW,HOP")?;
                cens = Some(match (window, hop) {
                    ("0", "0") => None,
                    _ => Some(warpflow::align::CensConfig {
                        window_frames: window.parse()?,
                        hop_frames: hop.parse()?,
                    }),
                });
            }
            "--transposition" => transposition = Transposition::Required,
            "--no-transposition" => transposition = Transposition::Off,
            other => features = other.parse()?,
        }
    }

    let mut encoder = AudioFeatureEncoder::new(features, FOLLOW_FRAMES, tch::Device::Cpu)?;
    config.pitch_layout = encoder.pitch_layout();
    config.transposition = transposition
        .locate_layout_for(encoder.pitch_layout(), &features.to_string())?
        .is_some();
    if let Some(statistics) = cens {
        config.cens = statistics;
    }
    let mut folders: Vec<PathBuf> = std::fs::read_dir(cases_dir)
        .with_context(|| format!("reading {cases_dir}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join("case.json").exists() && path.join("truth.csv").exists())
        .collect();
    // A case whose reference is made of recordings the library holds already is no lookup.
    folders.retain(|folder| {
        std::fs::read_to_string(folder.join("case.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .is_none_or(|case| case["in_library"].as_bool() != Some(false))
    });
    folders.sort();
    let mut cases = Vec::new();
    // One reference per piece: the cases of a piece share its recording.
    let mut references: Vec<(String, EncodedReference)> = Vec::new();
    for folder in folders {
        let case: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(folder.join("case.json"))?)?;
        let source = case["source"]
            .as_str()
            .context("case.json without a source")?
            .to_owned();
        if !references.iter().any(|(s, _)| *s == source) {
            references.push((
                source.clone(),
                encode_reference_file(&folder.join("reference.wav"), &mut encoder)?,
            ));
        }
        cases.push(Case {
            live: encode_reference_file(&folder.join("live.wav"), &mut encoder)?,
            truth: truth_stretches(&folder.join("truth.csv"))?,
            live_source: case["live_source"].as_str().map(str::to_owned),
            kind: case["kind"].as_str().unwrap_or("cases").to_owned(),
            folder,
            source,
        });
    }
    let dim = references.first().context("no cases")?.1.features.dim();
    println!(
        "{} cases, {} references, {features} (d = {dim}), precision {} ({} in use), {:?} steps, transposition {}, statistics {:?}",
        cases.len(),
        references.len(),
        config.precision.name(),
        config.precision.resolve(dim, Distance::Cosine).name(),
        config.steps,
        if config.transposition { "found" } else { "off" },
        config.cens.filter(|_| config.pitch_layout.is_some()),
    );
    println!(
        "| snippet | cases | searched | own reference first | within 0.3 s | within 1 s | median error | music returns elsewhere | within 1 s where it does not | search per snippet |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for &query_s in &query_lengths_s {
        let mut tallies: std::collections::BTreeMap<&str, Tally> = std::collections::BTreeMap::new();
        for case in &cases {
            let tally = tallies.entry(case.kind.as_str()).or_default();
            let live = &case.live;
            let live_s = |i: usize| live.timing.time_ns(i) as f64 / 1e9;
            let mut start_s = 0.0;
            while start_s + query_s <= live_s(live.features.len().saturating_sub(1)) {
                let end_s = start_s + query_s;
                let truth = case
                    .truth
                    .iter()
                    .find_map(|stretch| Some((truth_at(stretch, start_s)?, truth_at(stretch, end_s)?)));
                start_s += every_s;
                let Some((truth_start_s, truth_end_s)) = truth else {
                    continue;
                };
                let frames: Vec<usize> = (0..live.features.len())
                    .filter(|&i| (end_s - query_s..=end_s).contains(&live_s(i)))
                    .collect();
                let rows: Vec<f32> = frames.iter().flat_map(|&i| live.features.frame(i).to_vec()).collect();
                let query = FeatureMatrix::new(dim, rows)?;
                let (_, own_reference) = references
                    .iter()
                    .find(|(source, _)| *source == case.source)
                    .context("the case's own reference")?;
                let frame_at = |time_s: f64| {
                    let timing = &own_reference.timing;
                    ((time_s * 1e9 - timing.first_frame_ns) / timing.hop_ns)
                        .round()
                        .max(0.0) as usize
                };
                let passage = frame_at(truth_start_s)..(frame_at(truth_end_s) + 1).min(own_reference.features.len());
                let returns = music_returns(&query, &own_reference.features, passage, &config)?;
                tally.returning += usize::from(returns);
                let searched = Instant::now();
                let mut ranked = Vec::new();
                for (source, reference) in &references {
                    if case.live_source.as_ref() == Some(source) {
                        continue;
                    }
                    let best = locate_snippet(&query, &reference.features, &config)?.context("an empty reference")?;
                    ranked.push((best.ranked_cost, source, best.span, &reference.timing));
                }
                tally.search_s += searched.elapsed().as_secs_f64();
                ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
                tally.snippets += 1;
                let (_, source, best, timing) = ranked[0];
                if *source == case.source {
                    tally.found += 1;
                    let start_error_s = (timing.time_ns(best.start) as f64 / 1e9 - truth_start_s).abs();
                    let end_error_s = (timing.time_ns(best.end) as f64 / 1e9 - truth_end_s).abs();
                    tally.errors_s.push(start_error_s.max(end_error_s));
                    tally.placed_where_unique += usize::from(!returns && start_error_s.max(end_error_s) <= 1.0);
                } else {
                    eprintln!(
                        "{} at {:.1} s ({query_s} s): {source} ranked first",
                        case.folder.display(),
                        end_s - query_s
                    );
                }
            }
        }
        for (kind, mut tally) in tallies {
            tally.errors_s.sort_by(f64::total_cmp);
            let share = |count: usize| 100.0 * count as f64 / tally.snippets.max(1) as f64;
            let within = |limit_s: f64| share(tally.errors_s.iter().filter(|&&e| e <= limit_s).count());
            let unique = tally.snippets - tally.returning;
            println!(
                "| {query_s} s | {kind} | {} | {:.1}% | {:.1}% | {:.1}% | {:.0} ms | {} | {:.1}% | {:.1} ms |",
                tally.snippets,
                share(tally.found),
                within(0.3),
                within(1.0),
                tally
                    .errors_s
                    .get(tally.errors_s.len() / 2)
                    .copied()
                    .unwrap_or(f64::NAN)
                    * 1e3,
                tally.returning,
                100.0 * tally.placed_where_unique as f64 / unique.max(1) as f64,
                tally.search_s / tally.snippets.max(1) as f64 * 1e3
            );
        }
    }
    Ok(())
}
