//! The bipartite graph both sparse solvers read (compressed rows of `(column, score)`),
//! its score types and the score bound that keeps every dual and path length in range.
//! [`super::sparse`] and [`super::auction`] depend on it, never on each other's insides.

/// Scores must satisfy `|w| * (n_rows + n_cols + 2) * 8 <= 2^62` so that no dual or path
/// length can overflow.
pub const SAFE_SPAN: i64 = 1 << 62;

/// No vertex (an unmatched side, an unset predecessor).
pub(crate) const NONE: u32 = u32::MAX;
/// An unreached distance, far from overflowing when reduced costs are added.
pub(crate) const INF: i64 = i64::MAX / 4;

/// An edge score as stored in a [`Graph`]: `i32` when every score fits (half the memory
/// traffic of the auction's scans), else `i64`.
pub(crate) trait Score: Copy + Ord + Send + Sync + 'static {
    const ZERO: Self;
    const MAX: Self;
    fn get(self) -> i64;
    /// Only called with values that fit (checked by the caller).
    fn from_i64(v: i64) -> Self;
}

impl Score for i32 {
    const ZERO: Self = 0;
    const MAX: Self = i32::MAX;
    #[inline]
    fn get(self) -> i64 {
        i64::from(self)
    }
    #[inline]
    fn from_i64(v: i64) -> Self {
        v as i32
    }
}

impl Score for i64 {
    const ZERO: Self = 0;
    const MAX: Self = i64::MAX;
    #[inline]
    fn get(self) -> i64 {
        self
    }
    #[inline]
    fn from_i64(v: i64) -> Self {
        v
    }
}

/// Compressed adjacency: the edges of node `k` are `adj[off[k]..off[k+1]]` with weights `w`.
pub(crate) struct Graph<S: Score = i64> {
    pub(crate) off: Vec<usize>,
    pub(crate) adj: Vec<u32>,
    pub(crate) w: Vec<S>,
}

impl<S: Score> Graph<S> {
    /// The rows' adjacency of the edges `(rows[k], cols[k], scores[k])` that `keep`
    /// accepts (indices already validated), in input order within each row.
    pub(crate) fn from_edges(
        n: usize,
        rows: &[i64],
        cols: &[i64],
        scores: &[i64],
        keep: impl Fn(i64) -> bool,
    ) -> Self {
        let mut off = vec![0usize; n + 1];
        for (&r, &w) in rows.iter().zip(scores) {
            if keep(w) {
                off[r as usize + 1] += 1;
            }
        }
        for k in 0..n {
            off[k + 1] += off[k];
        }
        let m = off[n];
        let mut pos = off.clone();
        let mut adj = vec![0u32; m];
        let mut ww = vec![S::from_i64(0); m];
        huge_pages(&adj);
        huge_pages(&ww);
        for ((&r, &c), &w) in rows.iter().zip(cols).zip(scores) {
            if keep(w) {
                let p = &mut pos[r as usize];
                adj[*p] = c as u32;
                ww[*p] = S::from_i64(w);
                *p += 1;
            }
        }
        Self { off, adj, w: ww }
    }

    /// The same edges seen from the far side (`n_far` nodes), O(E).
    pub(crate) fn transpose(&self, n_far: usize) -> Self {
        let mut off = vec![0usize; n_far + 1];
        for &j in &self.adj {
            off[j as usize + 1] += 1;
        }
        for k in 0..n_far {
            off[k + 1] += off[k];
        }
        let mut pos = off.clone();
        let mut adj = vec![0u32; self.adj.len()];
        let mut ww = vec![S::from_i64(0); self.adj.len()];
        huge_pages(&adj);
        huge_pages(&ww);
        for i in 0..self.n() {
            for e in self.edges(i) {
                let p = &mut pos[self.adj[e] as usize];
                adj[*p] = i as u32;
                ww[*p] = self.w[e];
                *p += 1;
            }
        }
        Self { off, adj, w: ww }
    }

    pub(crate) fn n(&self) -> usize {
        self.off.len() - 1
    }

    #[inline]
    pub(crate) fn edges(&self, k: usize) -> std::ops::Range<usize> {
        self.off[k]..self.off[k + 1]
    }
}

/// Ask Linux for transparent huge pages on a large vector that is not written to yet: the
/// auction reads the graph and the prices at random, so with 4 KiB pages most of those
/// reads on a 10^6-row instance also miss the TLB. Measured at 10^6 rows, k = 16 (shared
/// 2-core VM, load 8-11, so noisy): 4-8 % less CPU time. Elsewhere, for vectors under
/// 2 MiB, or when the kernel refuses, nothing changes (the pages are then ordinary ones).
pub(crate) fn huge_pages<T>(v: &[T]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let base = v.as_ptr() as usize;
        let start = base.next_multiple_of(HUGE);
        let end = (base + std::mem::size_of_val(v)) / HUGE * HUGE;
        if end > start {
            // SAFETY: [start, end) lies inside the vector's allocation and is aligned to
            // 2 MiB; the advice changes how pages are mapped, never their contents.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
}

/// Largest `|score|` accepted for a problem of this shape.
pub fn max_abs_score(n_rows: usize, n_cols: usize) -> i64 {
    SAFE_SPAN / (8 * (n_rows as i64 + n_cols as i64 + 2))
}
