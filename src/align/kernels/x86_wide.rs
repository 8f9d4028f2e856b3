//! Plain Rust compiled for AVX2 and FMA: loops inlined into `run` vectorise eight lanes wide
//! where the baseline target's code is four lanes wide (SSE2). The arithmetic is the same
//! (Rust never fuses a multiply and an add on its own), so results equal the baseline's.
//!
//! Unsafe code is limited to calling the `target_feature` function after the dispatcher has
//! detected AVX2 and FMA.
#![allow(unsafe_code)]

use super::WideWork;

/// See [`super::vectorised`]; the caller has checked the processor.
pub(super) fn vectorised<W: WideWork>(work: W) -> W::Output {
    // SAFETY: the dispatcher calls this only after detecting AVX2 and FMA.
    unsafe { run(work) }
}

#[target_feature(enable = "avx2,fma")]
fn run<W: WideWork>(work: W) -> W::Output {
    work.run()
}
