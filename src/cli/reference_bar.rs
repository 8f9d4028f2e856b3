//! A bar on standard error, at a terminal, while a run encodes its references before it starts
//! (`locate` over a library, `follow` of a media file): which reference, how far, how many left.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use warpflow::flow::{ReferenceProgress, ReferenceStep};

/// The progress hook that draws the bar, or `None` where standard error is not a terminal.
pub(super) fn reference_bar() -> Option<ReferenceProgress> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    // Hidden until the first report has given it a length and a name.
    let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::hidden()).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {percent:>3}% (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let shown = Mutex::new(None::<usize>);
    Some(ReferenceProgress::new(move |step: ReferenceStep<'_>| {
        let Some(total_ns) = step.total_ns else {
            return;
        };
        let mut shown = shown.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if *shown != Some(step.index) {
            *shown = Some(step.index);
            bar.reset();
            bar.set_length((total_ns / 1_000_000).max(1));
            bar.set_message(format!(
                "encoding reference {} of {}: {}",
                step.index + 1,
                step.count,
                step.path.display()
            ));
            if step.index == 0 {
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
        }
        bar.set_position(step.done_ns / 1_000_000);
        // The run's own progress takes the terminal once the last reference is encoded.
        if step.finished && step.index + 1 == step.count {
            bar.finish_and_clear();
        }
    }))
}
