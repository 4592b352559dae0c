//! Sparse maximum-weight bipartite matching with integer scores, exact, with duals.
//!
//! The problem is the LP `max sum w_ij x_ij` over the given edges with `sum_j x_ij <= 1`
//! and `sum_i x_ij <= 1` (every row and column may stay unmatched: an outside option of
//! value 0 native to the algorithm, no dummy nodes), or, with `perfect`, `sum_j x_ij = 1`
//! (every row matched). The solver keeps dual variables `u` (rows) and `p` (columns) with
//! `u_i + p_j >= w_ij` on every edge and `p >= 0` (and `u >= 0` unless `perfect`), and
//! restores complementary slackness one node at a time (the exact phase): a free row with `u_i > 0` grows a
//! shortest-path tree (Dijkstra on the reduced costs `u_i + p_j - w_ij >= 0`, potentials
//! kept implicitly) until it reaches a free column (augment) or the dual of a tree row
//! falls to zero (that row gives up its column: the outside option). A warm start from
//! column prices, or the rounding of the auction's prices, may leave free columns with a
//! positive price; the mirror repair from the column side fixes those, by phases
//! ([`phased_repair`]: one multi-source Dijkstra from all of them per phase, then
//! column-disjoint augmentations along the tight paths). Integer arithmetic makes the
//! optimum exact.
//!
//! Start ([`Start::Auction`], the default), with the outside option: a forward/reverse
//! epsilon-scaling auction (`auction.rs`, [`super::auction::optional_auction`]) on scores
//! scaled by a power of two F > n_rows, in which unmatched rows end with profit 0 and
//! unmatched columns with price 0; its prices, rounded *up* to score units, leave every
//! matched edge exactly tight except for a fraction of about eps / F of the rows (see
//! [`solve_optional`]), and only those go through the exact phase. With `perfect` (or
//! scores too large for the scale), a forward auction with a work budget gives prices that
//! are floored back to score units, and the exact phase repairs the rest.
//!
//! Cost: O(E) to build the CSR graph (`i32` scores when they fit), the auction (one pass
//! over the edges per phase plus the bids; about 6 phases), then one Dijkstra, O(E' log E')
//! over the edges it reaches, per row left free, and one multi-source Dijkstra plus one
//! O(E') depth-first pass per mirror phase. Memory: O(E + n_rows + n_cols): the graph, its
//! transpose (for the reverse auction and the mirror repair), and a few arrays per node.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::budget::{try_filled, Need};
use crate::error::{CoreError, CoreResult};

const NONE: u32 = u32::MAX;
const INF: i64 = i64::MAX / 4;
/// Largest bucket queue of the phased repair (distances beyond use the heap).
const BUCKETS: i64 = 1 << 16;
/// Scores must satisfy `|w| * (n_rows + n_cols + 2) * 8 <= 2^62` so that no dual or path
/// length can overflow.
pub const SAFE_SPAN: i64 = 1 << 62;

/// An optimal sparse matching and its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparseSolution {
    /// Column of each row, `-1` when unmatched.
    pub row_to_col: Vec<i64>,
    /// Row of each column, `-1` when unmatched.
    pub col_to_row: Vec<i64>,
    /// Row duals `u` (in score units).
    pub u: Vec<i64>,
    /// Column duals (prices) `p >= 0`.
    pub p: Vec<i64>,
    /// False only with `perfect` when no matching covers every row.
    pub feasible: bool,
    /// Sum of the matched scores.
    pub total: i64,
    /// The duals are in units of `1 / dual_scale` score units.
    pub dual_scale: i64,
}

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

/// Scratch space of the shortest-path search, sized by the far side.
struct Search {
    d: Vec<i64>,
    pred: Vec<u32>,
    scanned: Vec<bool>,
    touched: Vec<u32>,
    scanned_list: Vec<u32>,
    tree: Vec<(u32, i64)>,
    heap: BinaryHeap<Reverse<(i64, u32)>>,
    /// Bucket queue for the distances below `cap` (0: the heap holds everything).
    buckets: Vec<Vec<u32>>,
    cap: usize,
    cur: usize,
}

impl Search {
    fn new(far: usize) -> Self {
        Self {
            d: vec![INF; far],
            pred: vec![NONE; far],
            scanned: vec![false; far],
            touched: Vec::new(),
            scanned_list: Vec::new(),
            tree: Vec::new(),
            heap: BinaryHeap::new(),
            buckets: Vec::new(),
            cap: 0,
            cur: 0,
        }
    }

    /// Use a bucket queue (Dial) for the distances below `cap`; only for searches that
    /// stop before `cap`, as the bucket pops come before any heap pop.
    fn use_buckets(&mut self, cap: usize) {
        if self.buckets.len() < cap {
            self.buckets.resize_with(cap, Vec::new);
        }
        self.cap = cap;
        self.cur = 0;
    }

    /// The next (distance, node) in non-decreasing distance order (may be stale).
    fn pop(&mut self) -> Option<(i64, u32)> {
        while self.cur < self.cap {
            if let Some(j) = self.buckets[self.cur].pop() {
                return Some((self.cur as i64, j));
            }
            self.cur += 1;
        }
        self.heap.pop().map(|Reverse(t)| t)
    }

    fn reset(&mut self) {
        for &j in &self.touched {
            self.d[j as usize] = INF;
        }
        for &j in &self.scanned_list {
            self.scanned[j as usize] = false;
        }
        self.touched.clear();
        self.scanned_list.clear();
        self.tree.clear();
        self.heap.clear();
        for bucket in &mut self.buckets[..self.cap] {
            bucket.clear();
        }
        self.cap = 0;
        self.cur = 0;
    }

    fn relax<S: Score>(&mut self, g: &Graph<S>, i: u32, di: i64, a: &[i64], b: &[i64]) {
        let base = di + a[i as usize];
        for e in g.edges(i as usize) {
            let j = g.adj[e];
            let ju = j as usize;
            if self.scanned[ju] {
                continue;
            }
            let nd = base + b[ju] - g.w[e].get();
            if nd < self.d[ju] {
                if self.d[ju] == INF {
                    self.touched.push(j);
                }
                self.d[ju] = nd;
                self.pred[ju] = i;
                if nd < self.cap as i64 {
                    self.buckets[nd as usize].push(j);
                } else {
                    self.heap.push(Reverse((nd, j)));
                }
            }
        }
    }
}

enum End {
    Far(u32),
    NearSink(u32),
    Stuck,
}

/// Restore complementary slackness at the free near-side node `start`.
///
/// Near side: duals `a`, mates `mate_a`; far side: duals `b`, mates `mate_b`. With
/// `near_sink` a near node may end unmatched once its dual is zero. Returns false when
/// no augmenting path exists (only possible without `near_sink`); nothing changes then.
#[allow(clippy::too_many_arguments)]
fn search<S: Score>(
    g: &Graph<S>,
    start: u32,
    a: &mut [i64],
    b: &mut [i64],
    mate_a: &mut [u32],
    mate_b: &mut [u32],
    near_sink: bool,
    s: &mut Search,
) -> bool {
    let mut best = if near_sink { a[start as usize] } else { INF };
    let mut sink_node = start;
    s.tree.push((start, 0));
    s.relax(g, start, 0, a, b);
    let (end, df) = loop {
        let Some(Reverse((dj, j))) = s.heap.pop() else {
            break if near_sink {
                (End::NearSink(sink_node), best)
            } else {
                (End::Stuck, 0)
            };
        };
        let ju = j as usize;
        if s.scanned[ju] || dj != s.d[ju] {
            continue;
        }
        if dj >= best {
            break (End::NearSink(sink_node), best);
        }
        s.scanned[ju] = true;
        s.scanned_list.push(j);
        let i = mate_b[ju];
        if i == NONE {
            break (End::Far(j), dj);
        }
        s.tree.push((i, dj));
        if near_sink {
            let cand = dj + a[i as usize];
            if cand < best {
                best = cand;
                sink_node = i;
            }
        }
        s.relax(g, i, dj, a, b);
    };
    if matches!(end, End::Stuck) {
        s.reset();
        return false;
    }
    for &(i, di) in &s.tree {
        if df > di {
            a[i as usize] -= df - di;
        }
    }
    for &j in &s.scanned_list {
        b[j as usize] += df - s.d[j as usize];
    }
    let mut j = match end {
        End::Far(j) => j,
        End::NearSink(k) if k == start => {
            s.reset();
            return true;
        }
        End::NearSink(k) => {
            let j = mate_a[k as usize];
            mate_a[k as usize] = NONE;
            j
        }
        End::Stuck => NONE,
    };
    loop {
        let i = s.pred[j as usize];
        let next = mate_a[i as usize];
        mate_a[i as usize] = j;
        mate_b[j as usize] = i;
        if i == start {
            break;
        }
        j = next;
    }
    s.reset();
    true
}

/// Scratch space of [`phased_repair`], sized by the far side.
struct Phases {
    s: Search,
    /// Phase stamp of the columns the augmenting DFS has entered.
    seen: Vec<u32>,
    stamp: u32,
    /// DFS stack: (row, next edge, column through which the row was entered).
    stack: Vec<(u32, usize, u32)>,
}

impl Phases {
    fn new(far: usize) -> Self {
        Self {
            s: Search::new(far),
            seen: vec![0; far],
            stamp: 0,
            stack: Vec::new(),
        }
    }
}

/// Restore complementary slackness at every free near-side node with a positive dual at
/// once (near nodes may end unmatched at dual 0: rows with the outside option, or columns
/// in the mirror repair), by phases. Each phase runs one multi-source Dijkstra from all
/// those nodes on the reduced costs `a_i + b_j - w_ij` (a bucket queue below `BUCKETS`),
/// stopping at the distance `D` of the nearest sink (a free far node, or a near node whose
/// outside-option arc of reduced cost `a_k` ends the path), and moves the duals of the
/// scanned nodes by `D - dist` so that every shortest path becomes tight (`a` stays
/// non-negative, `b` only grows). It then augments along a maximal set of far-disjoint tight
/// alternating paths found by depth-first search (Hopcroft-Karp style): a path ends at a
/// free far node, or at a near node with `a_k = 0`, which gives up its mate. Every
/// augmentation keeps all matched edges tight, so the certificate is the one of [`search`].
///
/// Cost per phase: O(E' log E') for the Dijkstra over the edges it reaches, plus O(E'')
/// for the DFS over the tight edges it reaches (each column entered once per phase).
/// Each phase either augments or zeroes the dual of a free near node, so there are at most
/// as many phases as starting nodes (in practice far fewer).
fn phased_repair<S: Score>(
    g: &Graph<S>,
    a: &mut [i64],
    b: &mut [i64],
    mate_a: &mut [u32],
    mate_b: &mut [u32],
    ph: &mut Phases,
) {
    let mut sources: Vec<u32> = (0..mate_a.len() as u32)
        .filter(|&i| mate_a[i as usize] == NONE && a[i as usize] > 0)
        .collect();
    while !sources.is_empty() {
        // Multi-source Dijkstra, stopping at the nearest sink.
        let s = &mut ph.s;
        let mut best = INF;
        for &i in &sources {
            best = best.min(a[i as usize]);
        }
        // Every distance popped is below `best`, which only decreases.
        s.use_buckets((best.min(BUCKETS) + 1) as usize);
        for &i in &sources {
            s.tree.push((i, 0));
            s.relax(g, i, 0, a, b);
        }
        let df = loop {
            let Some((dj, j)) = s.pop() else {
                break best;
            };
            let ju = j as usize;
            if s.scanned[ju] || dj != s.d[ju] {
                continue;
            }
            if dj >= best {
                break best;
            }
            s.scanned[ju] = true;
            s.scanned_list.push(j);
            let i = mate_b[ju];
            if i == NONE {
                break dj;
            }
            s.tree.push((i, dj));
            best = best.min(dj + a[i as usize]);
            s.relax(g, i, dj, a, b);
        };
        for &(i, di) in &s.tree {
            if df > di {
                a[i as usize] -= df - di;
            }
        }
        for &j in &s.scanned_list {
            b[j as usize] += df - s.d[j as usize];
        }
        s.reset();
        // Augment along column-disjoint tight paths.
        ph.stamp = ph.stamp.wrapping_add(1);
        if ph.stamp == 0 {
            ph.seen.fill(0);
            ph.stamp = 1;
        }
        let stamp = ph.stamp;
        for &src in &sources {
            if a[src as usize] == 0 || mate_a[src as usize] != NONE {
                continue;
            }
            let stack = &mut ph.stack;
            stack.clear();
            stack.push((src, g.off[src as usize], NONE));
            while let Some(top) = stack.last_mut() {
                let (i, ref mut e, _) = *top;
                let iu = i as usize;
                let end = g.off[iu + 1];
                let mut found = NONE;
                while *e < end {
                    let k = *e;
                    *e += 1;
                    let j = g.adj[k];
                    let ju = j as usize;
                    if ph.seen[ju] != stamp && a[iu] + b[ju] == g.w[k].get() {
                        ph.seen[ju] = stamp;
                        found = j;
                        break;
                    }
                }
                if found == NONE {
                    stack.pop();
                    continue;
                }
                let mate = mate_b[found as usize];
                if mate != NONE && a[mate as usize] > 0 {
                    stack.push((mate, g.off[mate as usize], found));
                    continue;
                }
                // A sink: a free column, or a mate whose outside option is tight.
                if mate != NONE {
                    mate_a[mate as usize] = NONE;
                }
                let mut col = found;
                for &(row, _, via) in stack.iter().rev() {
                    mate_a[row as usize] = col;
                    mate_b[col as usize] = row;
                    col = via;
                }
                break;
            }
        }
        sources.retain(|&i| mate_a[i as usize] == NONE && a[i as usize] > 0);
    }
}

fn check_index(field: &str, values: &[i64], bound: usize) -> CoreResult<()> {
    if let Some(k) = values
        .iter()
        .position(|&v| v < 0 || v as u64 >= bound as u64)
    {
        return Err(CoreError::invalid(
            field,
            Some(k),
            format!("index {} outside 0..{bound}", values[k]),
        ));
    }
    Ok(())
}

/// Largest `|score|` accepted for a problem of this shape.
pub fn max_abs_score(n_rows: usize, n_cols: usize) -> i64 {
    SAFE_SPAN / (8 * (n_rows as i64 + n_cols as i64 + 2))
}

/// How the sparse solver starts (see [`solve_sparse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Epsilon-scaling auction from zero (or the given) prices, then exact repair.
    Auction,
    /// Greedy from the prices, then exact repair by shortest augmenting paths only.
    Greedy,
}

/// Solve the sparse maximum-weight matching (see the module docs).
///
/// Scores are multiplied internally by a power of two `F` (at most the next power of two
/// above `n_rows`, less when the score range needs the head-room) so that the auction's
/// last epsilon of 1 is a fraction of a score unit; the duals come back in units of
/// `1 / F` (`SparseSolution::dual_scale` is `F`). `col_prices`, when given, warm-starts
/// the column duals in score units (any non-negative values, e.g. a previous solution's
/// prices divided by its `dual_scale`); the result is exactly optimal either way.
#[allow(clippy::too_many_arguments)]
pub fn solve_sparse(
    rows: &[i64],
    cols: &[i64],
    scores: &[i64],
    n_rows: usize,
    n_cols: usize,
    perfect: bool,
    col_prices: Option<&[f64]>,
    start: Start,
) -> CoreResult<SparseSolution> {
    if cols.len() != rows.len() {
        return Err(CoreError::invalid(
            "cols",
            None,
            format!("has {} entries, rows has {}", cols.len(), rows.len()),
        ));
    }
    if scores.len() != rows.len() {
        return Err(CoreError::invalid(
            "scores",
            None,
            format!("has {} entries, rows has {}", scores.len(), rows.len()),
        ));
    }
    if n_rows >= NONE as usize || n_cols >= NONE as usize {
        return Err(CoreError::invalid(
            "shape",
            None,
            "at most 2^32 - 2 rows and columns",
        ));
    }
    check_index("rows", rows, n_rows)?;
    check_index("cols", cols, n_cols)?;
    // Working memory: the graph and its transpose (offsets, columns, scores), then per
    // row and per column the duals, mates, search scratch and auction state.
    Need::new("shape")
        .items(rows.len(), 2 * (4 + 8))
        .items(n_rows, 8 + 8 + 8 + 4 + 1 + 8 + 4 + 4 + 16)
        .items(n_cols, 8 + 8 + 8 + 4 + 8 + 4 + 4 + 16 + 1)
        .check()?;
    let limit = max_abs_score(n_rows, n_cols);
    let mut max_abs = 0i64;
    for (k, &w) in scores.iter().enumerate() {
        if w.unsigned_abs() > limit as u64 {
            return Err(CoreError::invalid(
                "scores",
                Some(k),
                format!("|score| {w} exceeds {limit}, the exact range for this shape"),
            ));
        }
        max_abs = max_abs.max(w.abs());
    }
    // The internal scale F: a power of two, <= next_pow2(n_rows + 1), within the range.
    let mut factor = 1i64;
    while factor < (n_rows as i64 + 1) && (factor * 2).saturating_mul(max_abs.max(1)) <= limit {
        factor *= 2;
    }
    let cap = 2 * limit;
    let mut p: Vec<i64> = match col_prices {
        None => {
            let p = try_filled("shape", n_cols, 0)?;
            huge_pages(&p);
            p
        }
        Some(prices) => {
            if prices.len() != n_cols {
                return Err(CoreError::invalid(
                    "col_prices",
                    None,
                    format!("has {} entries, shape has {n_cols} columns", prices.len()),
                ));
            }
            let mut out = Vec::with_capacity(n_cols);
            for (k, &q) in prices.iter().enumerate() {
                if !(q >= 0.0 && q.is_finite()) {
                    return Err(CoreError::invalid(
                        "col_prices",
                        Some(k),
                        "must be finite and >= 0",
                    ));
                }
                let scaled = (q * factor as f64).floor();
                out.push(if scaled >= cap as f64 {
                    cap
                } else {
                    scaled as i64
                });
            }
            out
        }
    };
    // Non-positive edges never help a max-weight matching with an outside option.
    if !perfect && start == Start::Auction {
        let warm = col_prices.is_some();
        return Ok(if max_abs <= i64::from(i32::MAX) {
            let g = Graph::<i32>::from_edges(n_rows, rows, cols, scores, |w| w > 0);
            solve_optional(g, n_cols, p, factor, warm)
        } else {
            let g = Graph::<i64>::from_edges(n_rows, rows, cols, scores, |w| w > 0);
            solve_optional(g, n_cols, p, factor, warm)
        });
    }
    let mut g = Graph::<i64>::from_edges(n_rows, rows, cols, scores, |w| perfect || w > 0);
    for w in &mut g.w {
        *w *= factor;
    }
    let scaled_max = max_abs * factor;
    let reserve = if perfect { -4 * scaled_max - 4 } else { 0 };

    let hint = match start {
        Start::Auction if g.adj.is_empty() => None,
        Start::Auction => {
            let plan = super::auction::AuctionPlan {
                // Coarse enough to settle fast, fine enough not to price rows out
                // (tuned on the benchmark's random instances).
                eps_start: if col_prices.is_some() {
                    1
                } else {
                    (scaled_max / if perfect { 50 } else { 1000 }).max(1)
                },
                factor: 6,
                reserve,
                budget: 64 * g.adj.len() + 64 * n_rows,
            };
            let hint = super::auction::auction(&g, &mut p, &plan);
            // Back to score units: flooring the prices keeps most held edges exactly
            // tight, which is what the exact phase below starts from.
            for w in &mut g.w {
                *w /= factor;
            }
            for q in &mut p {
                *q /= factor;
            }
            factor = 1;
            // Columns the auction left free drop to price 0 (complementary slackness).
            let mut taken = vec![false; n_cols];
            for &j in &hint {
                if j != NONE {
                    taken[j as usize] = true;
                }
            }
            for (j, price) in p.iter_mut().enumerate() {
                if !taken[j] {
                    *price = 0;
                }
            }
            Some(hint)
        }
        Start::Greedy => None,
    };

    let mut u = vec![0i64; n_rows];
    let mut x = vec![NONE; n_rows];
    let mut y = vec![NONE; n_cols];
    let mut has_edges = vec![true; n_rows];
    // Rows take the auction's column when that edge is tight, else their best column
    // (value minus price) when it is still free; the rest are repaired below.
    for i in 0..n_rows {
        let mut best = if perfect { -INF } else { 0 };
        let mut arg = NONE;
        let want = hint.as_ref().map_or(NONE, |h| h[i]);
        let mut want_w = -INF;
        for e in g.edges(i) {
            let j = g.adj[e];
            let val = g.w[e] - p[j as usize];
            if val > best {
                best = val;
                arg = j;
            }
            if j == want {
                want_w = want_w.max(g.w[e]);
            }
        }
        u[i] = if arg == NONE { best.max(0) } else { best };
        if arg == NONE {
            has_edges[i] = !perfect || !g.edges(i).is_empty();
        }
        if want != NONE && want_w - p[want as usize] == u[i] && y[want as usize] == NONE {
            y[want as usize] = i as u32;
            x[i] = want;
        } else if arg != NONE && y[arg as usize] == NONE {
            y[arg as usize] = i as u32;
            x[i] = arg;
        }
    }
    let mut feasible = true;
    let mut forward = Search::new(n_cols);
    for i in 0..n_rows {
        if x[i] != NONE || (!perfect && u[i] == 0) {
            continue;
        }
        if !has_edges[i]
            || !search(
                &g,
                i as u32,
                &mut u,
                &mut p,
                &mut x,
                &mut y,
                !perfect,
                &mut forward,
            )
        {
            feasible = false;
        }
    }
    drop(forward);
    // Free columns still priced above 0 (a warm start, or a column the greedy pass
    // left): repair from their side with the mirror search.
    if (0..n_cols).any(|j| y[j] == NONE && p[j] > 0) {
        let gt = g.transpose(n_cols);
        phased_repair(
            &gt,
            &mut p,
            &mut u,
            &mut y,
            &mut x,
            &mut Phases::new(n_rows),
        );
    }
    let mut total = 0i64;
    for i in 0..n_rows {
        if x[i] != NONE {
            // The matched edge is tight: u_i + p_j = F * w_ij.
            total += (u[i] + p[x[i] as usize]) / factor;
        } else if perfect {
            u[i] = 0;
        }
    }
    let to_i64 = |a: &[u32]| -> Vec<i64> {
        a.iter()
            .map(|&k| if k == NONE { -1 } else { i64::from(k) })
            .collect()
    };
    Ok(SparseSolution {
        row_to_col: to_i64(&x),
        col_to_row: to_i64(&y),
        u,
        p,
        feasible,
        total,
        dual_scale: factor,
    })
}

/// The outside-option problem from the auction start ([`super::auction::optional_auction`]
/// on scores scaled by `factor`, a power of two above `n_rows` when the score range allows).
///
/// At the auction's last epsilon `e` (scaled units) every edge satisfies
/// `pi_i + p_j >= F w_ij - e`, matched edges hold with equality and unmatched columns are at
/// price 0. Rounding the prices *up* to score units, `q_j = ceil(p_j / F)`, then keeps every
/// matched row's edge exactly tight against all its other edges unless its column's price
/// had `p_j mod F` in `1..=e` (since `ceil((p - e) / F) = ceil(p / F)` otherwise), a
/// fraction of about `e / F` of the rows; unmatched rows and unmatched columns satisfy
/// complementary slackness exactly. Only those rows (and any the auction left not quite
/// optimal) go through the exact phase: one shortest-path search per row, then the
/// mirror repair for columns left free with a positive price. The duals come back in
/// score units (`dual_scale` 1). Exact for any `factor`; the auction only makes it fast.
/// Whether [`super::auction::optional_auction`] can keep its duals in `i32`: every price,
/// profit and cached value it stores lies in `0..=max(scaled_max, initial prices)` (bids
/// set prices and profits between 0 and a scaled score), so 32 bits suffice when those
/// bounds fit; half the random-access footprint of 64-bit duals.
fn narrow_duals(scaled_max: i64, prices: &[i64]) -> bool {
    let fits = |v: i64| (0..=i64::from(i32::MAX)).contains(&v);
    fits(scaled_max) && prices.iter().all(|&q| fits(q))
}

fn solve_optional<S: Score>(
    g: Graph<S>,
    n_cols: usize,
    mut p: Vec<i64>,
    factor: i64,
    warm: bool,
) -> SparseSolution {
    let n_rows = g.n();
    let max_w = g.w.iter().map(|w| w.get()).max().unwrap_or(0);
    let scaled_max = max_w * factor;
    let plan = super::auction::OptionalPlan {
        scale: factor,
        // Cold: a first epsilon of a quarter of the largest score settles fast; warm
        // prices are near an equilibrium, so start at one score unit. Tuned on the
        // benchmark's random instances (10^5 and 10^6 rows, k = 16).
        eps_start: if warm {
            factor
        } else {
            (scaled_max / 4).max(1)
        },
        factor: 16,
        // Stop at 1/32 of a score unit: the few rows whose rounded edge is then not
        // tight (a fraction of about eps / factor) are cheaper to repair exactly than
        // the last phases are to run.
        eps_stop: (factor / 32).max(1),
    };
    let out = if g.adj.is_empty() {
        super::auction::OptionalAuction {
            row_to_col: vec![NONE; n_rows],
            col_to_row: vec![NONE; n_cols],
            transposed: None,
        }
    } else if narrow_duals(scaled_max, &p) {
        let mut p32 = vec![0i32; n_cols];
        huge_pages(&p32);
        for (q, &v) in p32.iter_mut().zip(&p) {
            *q = v as i32;
        }
        let out = super::auction::optional_auction(&g, n_cols, &mut p32, &plan);
        for (q, &v) in p.iter_mut().zip(&p32) {
            *q = i64::from(v);
        }
        out
    } else {
        super::auction::optional_auction(&g, n_cols, &mut p, &plan)
    };
    let (mut x, mut y) = (out.row_to_col, out.col_to_row);
    // Round the prices up to score units; unmatched columns are at 0.
    for (j, price) in p.iter_mut().enumerate() {
        *price = if y[j] == NONE {
            0
        } else {
            (*price + factor - 1).div_euclid(factor)
        };
    }
    let mut u = vec![0i64; n_rows];
    for i in 0..n_rows {
        // The prices are read at random: fetch those of a row a few rows ahead.
        if i + 8 < n_rows {
            for e in g.edges(i + 8) {
                super::auction::prefetch(&p[g.adj[e] as usize]);
            }
        }
        let mut best = 0i64;
        let mut held = -INF;
        for e in g.edges(i) {
            let j = g.adj[e];
            let v = g.w[e].get() - p[j as usize];
            best = best.max(v);
            if j == x[i] {
                held = held.max(v);
            }
        }
        u[i] = best;
        if x[i] != NONE && held != best {
            y[x[i] as usize] = NONE;
            x[i] = NONE;
        }
    }
    let mut forward = Search::new(n_cols);
    for i in 0..n_rows {
        if x[i] == NONE && u[i] > 0 {
            search(
                &g,
                i as u32,
                &mut u,
                &mut p,
                &mut x,
                &mut y,
                true,
                &mut forward,
            );
        }
    }
    drop(forward);
    if (0..n_cols).any(|j| y[j] == NONE && p[j] > 0) {
        let gt = match out.transposed {
            Some(t) => t,
            None => g.transpose(n_cols),
        };
        phased_repair(
            &gt,
            &mut p,
            &mut u,
            &mut y,
            &mut x,
            &mut Phases::new(n_rows),
        );
    }
    let total = (0..n_rows)
        .filter(|&i| x[i] != NONE)
        .map(|i| u[i] + p[x[i] as usize])
        .sum();
    let to_i64 = |a: &[u32]| -> Vec<i64> {
        a.iter()
            .map(|&k| if k == NONE { -1 } else { i64::from(k) })
            .collect()
    };
    SparseSolution {
        row_to_col: to_i64(&x),
        col_to_row: to_i64(&y),
        u,
        p,
        feasible: true,
        total,
        dual_scale: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Best total over all matchings (rows may stay unmatched), by enumeration.
    fn brute(n: usize, m: usize, w: &[Option<i64>], perfect: bool) -> Option<i64> {
        fn rec(
            i: usize,
            n: usize,
            m: usize,
            w: &[Option<i64>],
            used: &mut [bool],
            perfect: bool,
        ) -> Option<i64> {
            if i == n {
                return Some(0);
            }
            let mut best = if perfect {
                None
            } else {
                rec(i + 1, n, m, w, used, perfect)
            };
            for j in 0..m {
                if let (false, Some(s)) = (used[j], w[i * m + j]) {
                    used[j] = true;
                    if let Some(r) = rec(i + 1, n, m, w, used, perfect) {
                        best = Some(best.map_or(s + r, |b: i64| b.max(s + r)));
                    }
                    used[j] = false;
                }
            }
            best
        }
        rec(0, n, m, w, &mut vec![false; m], perfect)
    }

    fn certify(sol: &SparseSolution, rows: &[i64], cols: &[i64], w: &[i64], perfect: bool) {
        for k in 0..rows.len() {
            let (i, j) = (rows[k] as usize, cols[k] as usize);
            assert!(
                sol.u[i] + sol.p[j] >= w[k] * sol.dual_scale,
                "edge {k} feasible"
            );
        }
        for (i, &j) in sol.row_to_col.iter().enumerate() {
            if j < 0 {
                if !perfect {
                    assert_eq!(sol.u[i], 0);
                }
            } else {
                assert_eq!(sol.col_to_row[j as usize], i as i64);
                let best = (0..rows.len())
                    .filter(|&k| rows[k] == i as i64 && cols[k] == j)
                    .map(|k| w[k])
                    .max()
                    .unwrap();
                assert_eq!(sol.u[i] + sol.p[j as usize], best * sol.dual_scale, "tight");
            }
            if !perfect {
                assert!(sol.u[i] >= 0);
            }
        }
        for (j, &i) in sol.col_to_row.iter().enumerate() {
            assert!(sol.p[j] >= 0);
            if i < 0 {
                assert_eq!(sol.p[j], 0);
            }
        }
    }

    /// The row, column and score columns of an edge list.
    fn columns(edges: &[(i64, i64, i64)]) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
        (
            edges.iter().map(|e| e.0).collect(),
            edges.iter().map(|e| e.1).collect(),
            edges.iter().map(|e| e.2).collect(),
        )
    }

    fn instance(
        n: usize,
        m: usize,
        seed: u64,
        lo: i64,
        hi: i64,
        density: u64,
    ) -> Vec<(i64, i64, i64)> {
        let mut s = seed | 1;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut out = Vec::new();
        for i in 0..n {
            for j in 0..m {
                if next() % 100 < density {
                    let w = lo + (next() % ((hi - lo + 1) as u64)) as i64;
                    out.push((i as i64, j as i64, w));
                }
            }
        }
        out
    }

    fn run(n: usize, m: usize, edges: &[(i64, i64, i64)], perfect: bool, warm: Option<&[f64]>) {
        run_with(n, m, edges, perfect, warm, Start::Auction);
        run_with(n, m, edges, perfect, warm, Start::Greedy);
    }

    fn run_with(
        n: usize,
        m: usize,
        edges: &[(i64, i64, i64)],
        perfect: bool,
        warm: Option<&[f64]>,
        start: Start,
    ) {
        let (rows, cols, w) = columns(edges);
        let sol = solve_sparse(&rows, &cols, &w, n, m, perfect, warm, start).unwrap();
        let mut dense = vec![None; n * m];
        for &(i, j, s) in edges {
            let cell = &mut dense[(i as usize) * m + j as usize];
            *cell = Some(cell.map_or(s, |c: i64| c.max(s)));
        }
        let opt = brute(n, m, &dense, perfect);
        assert_eq!(sol.feasible, opt.is_some());
        if let Some(opt) = opt {
            assert_eq!(sol.total, opt);
            let recomputed: i64 = sol
                .row_to_col
                .iter()
                .enumerate()
                .filter(|(_, &j)| j >= 0)
                .map(|(i, &j)| dense[i * m + j as usize].unwrap())
                .sum();
            assert_eq!(recomputed, opt);
            certify(&sol, &rows, &cols, &w, perfect);
        }
    }

    #[test]
    fn tiny_cases() {
        run(0, 0, &[], false, None);
        run(3, 0, &[], false, None);
        run(2, 2, &[(0, 0, 5), (0, 1, 4), (1, 0, 4)], false, None);
        run(2, 2, &[(0, 0, -5), (1, 1, 0)], false, None);
        run(2, 2, &[(0, 0, -5), (1, 1, -1)], true, None);
        run(2, 1, &[(0, 0, 3), (1, 0, 2)], true, None);
    }

    #[test]
    fn bad_input_names_field_and_row() {
        let e =
            solve_sparse(&[0, 5], &[0, 0], &[1, 1], 2, 2, false, None, Start::Auction).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid input: rows (row 1): index 5 outside 0..2"
        );
        let e = solve_sparse(&[0], &[-1], &[1], 2, 2, false, None, Start::Auction).unwrap_err();
        assert!(e.to_string().contains("cols (row 0)"));
        assert!(solve_sparse(&[0], &[0, 1], &[1], 2, 2, false, None, Start::Auction).is_err());
        assert!(solve_sparse(&[0], &[0], &[i64::MAX], 2, 2, false, None, Start::Auction).is_err());
    }

    /// The phased repair alone, from both sides, starting from an empty matching and
    /// random prices (row duals at their feasible minimum), reaches the optimum.
    fn run_phased(n: usize, m: usize, edges: &[(i64, i64, i64)], prices: &[i64]) {
        let (rows, cols, w) = columns(edges);
        let g = Graph::<i64>::from_edges(n, &rows, &cols, &w, |v| v > 0);
        let gt = g.transpose(m);
        let mut p = prices[..m].to_vec();
        let mut u: Vec<i64> = (0..n)
            .map(|i| {
                g.edges(i)
                    .map(|e| g.w[e] - p[g.adj[e] as usize])
                    .fold(0, i64::max)
            })
            .collect();
        let (mut x, mut y) = (vec![NONE; n], vec![NONE; m]);
        phased_repair(&g, &mut u, &mut p, &mut x, &mut y, &mut Phases::new(m));
        phased_repair(&gt, &mut p, &mut u, &mut y, &mut x, &mut Phases::new(n));
        let to_i64 = |a: &[u32]| -> Vec<i64> {
            a.iter()
                .map(|&k| if k == NONE { -1 } else { i64::from(k) })
                .collect()
        };
        let total = (0..n)
            .filter(|&i| x[i] != NONE)
            .map(|i| u[i] + p[x[i] as usize])
            .sum();
        let sol = SparseSolution {
            row_to_col: to_i64(&x),
            col_to_row: to_i64(&y),
            u,
            p,
            feasible: true,
            total,
            dual_scale: 1,
        };
        let mut dense = vec![None; n * m];
        for &(i, j, s) in edges {
            let cell = &mut dense[(i as usize) * m + j as usize];
            *cell = Some(cell.map_or(s, |c: i64| c.max(s)));
        }
        assert_eq!(Some(sol.total), brute(n, m, &dense, false));
        certify(&sol, &rows, &cols, &w, false);
    }

    /// The forward/reverse auction alone, run down to epsilon 1 with a scale above the
    /// row count, ends epsilon-complementary-slack and with an optimal matching (checked
    /// against the shortest-augmenting-path solver).
    #[test]
    fn optional_auction_alone_is_optimal() {
        use super::super::auction::{optional_auction, OptionalPlan};
        for seed in 1..40u64 {
            let (n, m) = (40 + (seed as usize % 7), 35);
            let edges = instance(n, m, seed, -10, 60, 12);
            let (rows, cols, w) = columns(&edges);
            let g = Graph::<i32>::from_edges(n, &rows, &cols, &w, |v| v > 0);
            let scale = 64;
            let mut p = vec![0i64; m];
            let plan = OptionalPlan {
                scale,
                eps_start: 60 * scale / 4,
                factor: 4,
                eps_stop: 1,
            };
            let out = optional_auction(&g, m, &mut p, &plan);
            let (x, y) = (&out.row_to_col, &out.col_to_row);
            let mut total = 0;
            let mut pi = vec![0i64; n];
            for i in 0..n {
                if x[i] != NONE {
                    assert_eq!(y[x[i] as usize], i as u32);
                    let best = g
                        .edges(i)
                        .filter(|&e| g.adj[e] == x[i])
                        .map(|e| g.w[e].get())
                        .max()
                        .unwrap();
                    total += best;
                    pi[i] = best * scale - p[x[i] as usize];
                    assert!(pi[i] >= 0);
                }
            }
            for j in 0..m {
                assert!(p[j] >= 0);
                if y[j] == NONE {
                    assert_eq!(p[j], 0, "unmatched column at price 0");
                }
            }
            for (i, &profit) in pi.iter().enumerate() {
                for e in g.edges(i) {
                    assert!(
                        profit + p[g.adj[e] as usize] >= g.w[e].get() * scale - 1,
                        "1-CS"
                    );
                }
            }
            let exact = solve_sparse(&rows, &cols, &w, n, m, false, None, Start::Greedy).unwrap();
            assert_eq!(total, exact.total, "seed {seed}");
        }
    }

    /// Larger random instances: the auction start (with its early stop and rounding)
    /// and the shortest-path start agree, and both certify.
    #[test]
    fn auction_and_shortest_paths_agree_on_larger_instances() {
        for seed in 1..6u64 {
            let (n, m) = (400, 380);
            let edges = instance(n, m, seed * 7919, 1, 1000, 4);
            let (rows, cols, w) = columns(&edges);
            let a = solve_sparse(&rows, &cols, &w, n, m, false, None, Start::Auction).unwrap();
            let b = solve_sparse(&rows, &cols, &w, n, m, false, None, Start::Greedy).unwrap();
            assert_eq!(a.total, b.total);
            certify(&a, &rows, &cols, &w, false);
            certify(&b, &rows, &cols, &w, false);
        }
    }

    /// The auction with 32-bit duals makes exactly the bids of the one with 64-bit duals.
    #[test]
    fn narrow_and_wide_duals_agree() {
        use super::super::auction::{optional_auction, OptionalPlan};
        for seed in 1..20u64 {
            let (n, m) = (300, 280);
            let edges = instance(n, m, seed * 31, 1, 1000, 5);
            let (rows, cols, w) = columns(&edges);
            let g = Graph::<i32>::from_edges(n, &rows, &cols, &w, |v| v > 0);
            let plan = OptionalPlan {
                scale: 512,
                eps_start: 1000 * 512 / 4,
                factor: 8,
                eps_stop: 1,
            };
            assert!(narrow_duals(1000 * 512, &vec![0; m]));
            let mut wide = vec![0i64; m];
            let mut narrow = vec![0i32; m];
            let a = optional_auction(&g, m, &mut wide, &plan);
            let b = optional_auction(&g, m, &mut narrow, &plan);
            assert_eq!(a.row_to_col, b.row_to_col, "seed {seed}");
            assert_eq!(a.col_to_row, b.col_to_row, "seed {seed}");
            let narrow: Vec<i64> = narrow.into_iter().map(i64::from).collect();
            assert_eq!(wide, narrow, "seed {seed}");
        }
    }

    /// Scores whose scaled range overflows 32 bits (and warm prices that do) take the
    /// 64-bit duals and stay exact.
    #[test]
    fn wide_duals_when_scores_exceed_32_bits() {
        assert!(!narrow_duals(i64::from(i32::MAX) + 1, &[0]));
        assert!(!narrow_duals(1, &[i64::from(i32::MAX) + 1]));
        assert!(narrow_duals(i64::from(i32::MAX), &[i64::from(i32::MAX)]));
        for seed in 1..4u64 {
            let (n, m) = (200, 190);
            let edges = instance(n, m, seed * 101, 1, 50_000_000, 6);
            let (rows, cols, w) = columns(&edges);
            // F = 256 here, so the largest scaled score is near 1.3e10 > 2^31.
            let a = solve_sparse(&rows, &cols, &w, n, m, false, None, Start::Auction).unwrap();
            let b = solve_sparse(&rows, &cols, &w, n, m, false, None, Start::Greedy).unwrap();
            assert_eq!(a.total, b.total);
            certify(&a, &rows, &cols, &w, false);
            let warm = vec![1e8; m];
            let c =
                solve_sparse(&rows, &cols, &w, n, m, false, Some(&warm), Start::Auction).unwrap();
            assert_eq!(c.total, b.total);
            certify(&c, &rows, &cols, &w, false);
        }
    }

    proptest! {
        #[test]
        fn phased_repair_is_exact(n in 0usize..7, m in 0usize..7, seed in any::<u64>(),
                                  lo in -5i64..5, span in 0i64..30, density in 10u64..100,
                                  prices in proptest::collection::vec(0i64..40, 7)) {
            let edges = instance(n, m, seed, lo, lo + span, density);
            run_phased(n, m, &edges, &prices);
        }

        #[test]
        fn matches_brute_force(n in 0usize..6, m in 0usize..6, seed in any::<u64>(),
                               lo in -20i64..5, span in 0i64..30, density in 10u64..100,
                               perfect in any::<bool>()) {
            let edges = instance(n, m, seed, lo, lo + span, density);
            run(n, m, &edges, perfect, None);
        }

        #[test]
        fn warm_start_is_exact(n in 0usize..6, m in 0usize..6, seed in any::<u64>(),
                               span in 1i64..30, perfect in any::<bool>(),
                               prices in proptest::collection::vec(0.0f64..40.0, 6)) {
            let edges = instance(n, m, seed, 1, span, 60);
            run(n, m, &edges, perfect, Some(&prices[..m]));
        }
    }
}
