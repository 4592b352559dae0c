//! Fuzz harnesses of the engine's entry points that take bytes or sizes from outside.
//!
//! Each harness turns arbitrary bytes into one call of the engine and checks what the
//! engine promises for *every* input: it returns (an `Ok` or an error, never a panic or an
//! abort), and an `Ok` result satisfies the properties a caller relies on (a matching is
//! a matching within capacities, an optimal one carries a valid dual certificate, an
//! allocation conserves the total). A violated property panics, which the fuzzer reports.
//!
//! The same functions run under libFuzzer (`fuzz_targets/`, `make fuzz`) and as plain
//! tests replaying `regressions/` and `corpus/` (`tests/replay.rs`, `make fuzz-smoke`).
//!
//! The engine's memory budget is set to [`BUDGET_BYTES`] (32 MiB) first, so sizes the fuzzer makes
//! up are refused by the budget (the path under test) instead of being granted the
//! machine's memory and tripping libFuzzer's RSS limit.

use std::sync::Once;

use _core::budget::set_memory_budget;
use arbitrary::{Arbitrary, Result, Unstructured};

mod candidates;
mod carbon;
mod join;
mod matching;

pub use candidates::candidates;
pub use carbon::carbon;
pub use join::join_wire;
pub use matching::{sparse, stable};

/// The engine's memory budget while fuzzing (libFuzzer's default RSS limit is 2 GiB).
pub const BUDGET_BYTES: usize = 32 << 20;

static INIT: Once = Once::new();

fn init() {
    INIT.call_once(|| set_memory_budget(BUDGET_BYTES));
}

/// Small sizes most of the time, occasionally any `u64` (the sizes attackers pick).
fn size(u: &mut Unstructured<'_>, small: u64) -> Result<usize> {
    let raw = u64::arbitrary(u)?;
    Ok(if raw >> 60 == 0xF {
        raw as usize
    } else {
        (raw % small.max(1)) as usize
    })
}

/// An `f64` that is usually an ordinary value, sometimes NaN, an infinity or extreme.
fn real(u: &mut Unstructured<'_>) -> Result<f64> {
    Ok(match u8::arbitrary(u)? % 16 {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => f64::NEG_INFINITY,
        3 => f64::from_bits(u64::arbitrary(u)?),
        4 => -f64::from(u16::arbitrary(u)?),
        _ => f64::from(u16::arbitrary(u)?) / 16.0,
    })
}

fn reals(u: &mut Unstructured<'_>, n: usize) -> Result<Vec<f64>> {
    (0..n).map(|_| real(u)).collect()
}

fn vec_of<T>(n: usize, mut f: impl FnMut() -> Result<T>) -> Result<Vec<T>> {
    (0..n).map(|_| f()).collect()
}

// --- PSI wire decoding -------------------------------------------------------------
