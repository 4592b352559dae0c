//! Memory asked for by input sizes, checked before it is taken.
//!
//! A size that comes from outside (a declared shape, a number of proposers, a count in a
//! message, a number of hours) must never make the engine abort on a failed allocation:
//! Rust's infallible `vec![x; n]` and `Vec::with_capacity(n)` end the process when the
//! allocator refuses. Every engine function that allocates in proportion to such a size
//! first asks [`Need::check`] with an estimate of its working memory (checked arithmetic,
//! so an overflowing size is refused too), and allocates the largest buffers through
//! [`try_filled`] / [`try_with_capacity`] (`Vec::try_reserve_exact` underneath). Either
//! refusal is [`CoreError::ResourceExhausted`] naming the argument, which Python sees as
//! `zone_opt.errors.ResourceExhaustedError`.
//!
//! The budget is the machine's physical memory unless [`set_memory_budget`] sets a lower
//! one (a server shares the machine among its callers). It bounds one call's estimate, not
//! the sum over concurrent calls.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{CoreError, CoreResult};

/// 0: the default (physical memory).
static BUDGET: AtomicUsize = AtomicUsize::new(0);

/// Physical memory in bytes (`usize::MAX / 2` where the OS does not say).
fn physical_memory() -> usize {
    #[cfg(unix)]
    {
        // SAFETY: sysconf only reads system configuration.
        let (pages, page) = unsafe {
            (
                libc::sysconf(libc::_SC_PHYS_PAGES),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        if pages > 0 && page > 0 {
            return (pages as usize).saturating_mul(page as usize);
        }
    }
    usize::MAX / 2
}

/// The largest working memory, in bytes, one engine call may ask for.
pub fn memory_budget() -> usize {
    match BUDGET.load(Ordering::Relaxed) {
        0 => physical_memory(),
        b => b,
    }
}

/// Set the budget in bytes (0 restores the default, the machine's physical memory).
pub fn set_memory_budget(bytes: usize) {
    BUDGET.store(bytes, Ordering::Relaxed);
}

/// An estimate of the bytes a call will hold at once, attributed to the argument whose
/// size drives it. Sums saturate into "too large", never wrap.
#[derive(Debug, Clone)]
#[must_use]
pub struct Need {
    field: &'static str,
    bytes: Option<usize>,
}

impl Need {
    pub fn new(field: &'static str) -> Self {
        Self {
            field,
            bytes: Some(0),
        }
    }

    /// Plus `n` values of `T`.
    pub fn of<T>(self, n: usize) -> Self {
        self.bytes(n.checked_mul(std::mem::size_of::<T>()))
    }

    /// Plus `n` items of `each` bytes.
    pub fn items(self, n: usize, each: usize) -> Self {
        self.bytes(n.checked_mul(each))
    }

    fn bytes(mut self, more: Option<usize>) -> Self {
        self.bytes = match (self.bytes, more) {
            (Some(a), Some(b)) => a.checked_add(b),
            _ => None,
        };
        self
    }

    /// Refuse when the estimate exceeds the budget (or overflows).
    pub fn check(self) -> CoreResult<()> {
        let budget = memory_budget();
        match self.bytes {
            Some(b) if b <= budget => Ok(()),
            Some(b) => Err(exhausted(
                self.field,
                format!("needs about {b} bytes of working memory, over the budget of {budget}"),
            )),
            None => Err(exhausted(
                self.field,
                format!("needs more than {} bytes of working memory", usize::MAX),
            )),
        }
    }
}

fn exhausted(field: &str, reason: String) -> CoreError {
    CoreError::ResourceExhausted {
        field: field.to_owned(),
        reason,
    }
}

/// `Vec::with_capacity(n)` that refuses (over the budget, or when the allocator says no)
/// instead of aborting.
pub fn try_with_capacity<T>(field: &'static str, n: usize) -> CoreResult<Vec<T>> {
    Need::new(field).of::<T>(n).check()?;
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|e| {
        exhausted(
            field,
            format!(
                "could not allocate {n} items of {} bytes: {e}",
                std::mem::size_of::<T>()
            ),
        )
    })?;
    Ok(v)
}

/// `vec![value; n]` that refuses instead of aborting (see [`try_with_capacity`]).
pub fn try_filled<T: Clone>(field: &'static str, n: usize, value: T) -> CoreResult<Vec<T>> {
    let mut v = try_with_capacity(field, n)?;
    v.resize(n, value);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_over_the_budget_or_overflowing_are_refused_by_name() {
        let e = try_filled("shape", usize::MAX / 4, 0_u64).unwrap_err();
        assert!(matches!(&e, CoreError::ResourceExhausted { field, .. } if field == "shape"));
        assert!(e.to_string().contains("shape"), "{e}");
        let e = Need::new("n").of::<u64>(usize::MAX).check().unwrap_err();
        assert!(e.to_string().contains("more than"), "{e}");
        assert_eq!(try_filled("n", 3, 7_i32).unwrap(), vec![7, 7, 7]);
        assert!(try_with_capacity::<u8>("n", 0).unwrap().is_empty());
        assert!(Need::new("n")
            .of::<u64>(1 << 20)
            .items(3, 5)
            .check()
            .is_ok());
        // The default budget is the machine's memory: at least a megabyte, and a real cap.
        assert!(memory_budget() >= 1 << 20);
        assert!(memory_budget() < usize::MAX);
    }

    /// Issue 15: shapes within the documented index limits whose working memory no
    /// machine of ours has (hundreds of GB) are refused by name instead of aborting in
    /// the allocator.
    #[test]
    fn issue_15_shapes_are_refused_not_aborted() {
        use crate::matching::{
            solve_sparse, stable::deferred_acceptance, SparseOptions, SparseProblem, Start,
        };
        let n = (1_usize << 32) - 2;
        let e = solve_sparse(
            SparseProblem {
                rows: &[0],
                cols: &[0],
                scores: &[1],
                n_rows: n,
                n_cols: n,
            },
            SparseOptions {
                perfect: false,
                col_prices: None,
                start: Start::Auction,
            },
        )
        .unwrap_err();
        assert!(
            matches!(&e, CoreError::ResourceExhausted { field, .. } if field == "shape"),
            "{e}"
        );
        let e = deferred_acceptance(&[0], &[0], &[1.0], &[1.0], &[1], Some(n)).unwrap_err();
        assert!(
            matches!(&e, CoreError::ResourceExhausted { field, .. } if field == "n_proposers"),
            "{e}"
        );
    }

    /// A declared tenants x hours that overflows is refused, not wrapped (found while
    /// writing the carbon fuzz target).
    #[test]
    fn scope2_declared_size_overflow_is_invalid() {
        use crate::carbon::scope2::{scope2, LossPolicy, PvSharing, Scope2Input};
        let input = Scope2Input {
            n: 4,
            hours: usize::MAX / 2,
            load_wh: &[],
            pv_wh: &[],
            pv_sharing: PvSharing::ProRata,
            contract_wh: &[],
            contract_share: &[],
            certificate_wh: None,
            gate_import_wh: None,
            loss_policy: LossPolicy::Landlord,
            location_ug_per_wh: 0,
            residual_ug_per_wh: 0,
            detail: false,
        };
        let e = scope2(&input).unwrap_err();
        assert!(
            e.to_string().contains("load_wh") && e.to_string().contains("overflows"),
            "{e}"
        );
    }
}
