//! The engine-owned rayon pool.
//!
//! All parallel engine work runs inside [`install`], on one pool whose size comes from
//! `ZONE_OPT_NUM_THREADS` (default: the machine's available parallelism) or from
//! [`set_num_threads`]. The pool is keyed by process id: a child created by `fork()`
//! (grpcio and multiprocessing both fork) never touches the parent's worker threads,
//! which do not exist in the child, but builds a fresh pool on first use.

use std::sync::{Arc, Mutex, PoisonError};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{CoreError, CoreResult};

pub const ENV_NUM_THREADS: &str = "ZONE_OPT_NUM_THREADS";

struct PoolSlot {
    pid: u32,
    threads: usize,
    pool: Arc<ThreadPool>,
}

static POOL: Mutex<Option<PoolSlot>> = Mutex::new(None);
static REQUESTED: Mutex<Option<usize>> = Mutex::new(None);

fn threads_from_env() -> usize {
    std::env::var(ENV_NUM_THREADS)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The number of threads the engine pool uses (or will use on first work).
pub fn num_threads() -> usize {
    let requested = *REQUESTED.lock().unwrap_or_else(PoisonError::into_inner);
    requested.unwrap_or_else(threads_from_env)
}

/// Resize the engine pool; takes effect for the next call into the engine.
pub fn set_num_threads(n: usize) -> CoreResult<()> {
    if n == 0 {
        return Err(CoreError::invalid(
            "num_threads",
            None,
            "must be at least 1",
        ));
    }
    *REQUESTED.lock().unwrap_or_else(PoisonError::into_inner) = Some(n);
    Ok(())
}

fn pool() -> CoreResult<Arc<ThreadPool>> {
    let pid = std::process::id();
    let threads = num_threads();
    let mut slot = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(s) = slot.as_ref() {
        if s.pid == pid && s.threads == threads {
            return Ok(Arc::clone(&s.pool));
        }
    }
    let built = ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("zone-opt-{i}"))
        .build()
        .map_err(|e| CoreError::Internal(format!("cannot start the thread pool: {e}")))?;
    let pool = Arc::new(built);
    *slot = Some(PoolSlot {
        pid,
        threads,
        pool: Arc::clone(&pool),
    });
    Ok(pool)
}

/// Run `f` on the engine pool: rayon iterators inside use its threads.
pub fn install<T: Send>(f: impl FnOnce() -> CoreResult<T> + Send) -> CoreResult<T> {
    let pool = pool()?;
    pool.install(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn install_runs_parallel_work_on_the_engine_pool() {
        let total = install(|| Ok((0..1000_u64).into_par_iter().sum::<u64>())).unwrap();
        assert_eq!(total, 499_500);
        assert!(rayon::current_thread_index().is_none());
    }

    #[test]
    fn zero_threads_is_refused() {
        assert!(set_num_threads(0).is_err());
    }
}
