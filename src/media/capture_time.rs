//! Capture instants across processes: records that a cluster sends from the process that
//! captured them to the one that holds their stream carry their capture time as wall-clock
//! nanoseconds since the Unix epoch, turned back into an [`Instant`] on arrival.
//!
//! An `Instant` means nothing outside the process that took it; the wall clock does, as far
//! as the machines' clocks agree (NTP keeps them within a millisecond or so, which is what
//! capture-to-event latency across machines can then be trusted to). On one machine the
//! round trip is exact to the clock's resolution.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Serialises `instant` as wall-clock nanoseconds since the Unix epoch.
pub fn serialize<S: Serializer>(instant: &Instant, serializer: S) -> Result<S::Ok, S::Error> {
    let age = instant.elapsed();
    let wall_ns = SystemTime::now()
        .checked_sub(age)
        .and_then(|then| then.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_nanos() as u64);
    wall_ns.serialize(serializer)
}

/// Reads wall-clock nanoseconds since the Unix epoch back as an [`Instant`] of this process;
/// a time ahead of this machine's clock (clocks that disagree) reads as now.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Instant, D::Error> {
    let wall_ns = u64::deserialize(deserializer)?;
    let then = UNIX_EPOCH + Duration::from_nanos(wall_ns);
    let age = SystemTime::now().duration_since(then).unwrap_or(Duration::ZERO);
    let now = Instant::now();
    Ok(now.checked_sub(age).unwrap_or(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Stamped(#[serde(with = "super")] Instant);

    #[test]
    fn an_instant_survives_the_round_trip_within_a_millisecond() {
        let taken = Instant::now() - Duration::from_millis(250);
        let text = serde_json::to_string(&Stamped(taken)).expect("serialised");
        let Stamped(back) = serde_json::from_str(&text).expect("deserialised");
        let error = if back > taken { back - taken } else { taken - back };
        assert!(error < Duration::from_millis(1), "{error:?}");
    }

    #[test]
    fn a_time_ahead_of_the_clock_reads_as_now() {
        let ahead_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos() as u64
            + 60_000_000_000;
        let Stamped(back) = serde_json::from_str(&ahead_ns.to_string()).expect("deserialised");
        assert!(back.elapsed() < Duration::from_secs(1));
    }
}
