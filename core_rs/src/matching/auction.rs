//! Forward auction with epsilon-scaling and a reservation value per row (Bertsekas).
//!
//! Used as the fast start of the exact sparse solver: it brings the column prices close
//! to an equilibrium in near-linear time on random and geographic graphs, where shortest
//! augmenting paths alone grow super-linearly. Its output needs no guarantee: the exact
//! shortest-path phase that follows accepts any prices and repairs every violation of
//! complementary slackness. A work budget therefore stops price wars (for example in
//! rows that cannot all be matched) instead of letting them run.

use std::collections::VecDeque;

use super::graph::{huge_pages, Graph, Score};

const NONE: u32 = u32::MAX;
/// Rounds per phase that reset the prices of objects nobody holds and re-queue free rows.
const SETTLE_ROUNDS: usize = 16;

/// Settings of one auction run (scores and prices in the same scaled integer unit).
pub(crate) struct AuctionPlan {
    /// Epsilon of the first phase (>= 1); each phase divides it by `factor` down to 1.
    pub eps_start: i64,
    pub factor: i64,
    /// Value of staying unmatched: 0 for the outside option, very negative when every row
    /// should be matched.
    pub reserve: i64,
    /// Maximum number of edge scans over all phases.
    pub budget: usize,
}

/// What the last full scan of a bidder's edges saw (scaled units): its two best far
/// nodes `a` and `b` with their scaled scores, and an upper bound `rest` on the value of
/// every other far node and of the outside option 0. While the far side's duals only rise
/// (prices within a forward phase, row profits within a reverse pass), values only fall,
/// so `rest` stays an upper bound and a bidder whose `a` or `b` is still worth at least
/// `rest` knows its best value exactly without rescanning its edges.
/// Stored in the duals' type `D` (`i32` when every scaled score fits: 20 bytes a node).
#[derive(Clone, Copy)]
struct Top2<D> {
    a: u32,
    b: u32,
    wa: D,
    wb: D,
    rest: D,
}

impl<D: Score> Top2<D> {
    /// Forces the next [`best_cached`] to scan.
    const STALE: Top2<D> = Top2 {
        a: NONE,
        b: NONE,
        wa: D::ZERO,
        wb: D::ZERO,
        rest: D::MAX,
    };
}

/// The best and second best values `f * w - duals[far]` over the edges of node `i` (the
/// outside option 0 included), the best far node and its scaled score; records the
/// node's [`Top2`].
#[inline]
fn best_scan<S: Score, D: Score>(
    g: &Graph<S>,
    f: i64,
    duals: &[D],
    i: usize,
    top: &mut Top2<D>,
) -> (i64, i64, u32, i64) {
    let (mut v1, mut v2, mut v3) = (0i64, 0i64, 0i64);
    let (mut j1, mut w1, mut j2, mut w2) = (NONE, 0i64, NONE, 0i64);
    for e in g.edges(i) {
        let j = g.adj[e];
        let w = g.w[e].get() * f;
        let v = w - duals[j as usize].get();
        if v > v2 {
            v3 = v2;
            if v > v1 {
                (v2, j2, w2) = (v1, j1, w1);
                (v1, j1, w1) = (v, j, w);
            } else {
                (v2, j2, w2) = (v, j, w);
            }
        } else if v > v3 {
            v3 = v;
        }
    }
    *top = Top2 {
        a: j1,
        b: j2,
        wa: D::from_i64(w1),
        wb: D::from_i64(w2),
        rest: D::from_i64(v3),
    };
    (v1, v2, j1, w1)
}

/// The bidder's best value `v1`, an upper bound `v2` on its second best value, its best
/// far node and that node's scaled score, from its [`Top2`] when that settles them (only
/// valid while the far duals have not fallen since the scan that recorded it), else by a
/// scan. When the best value is at most `eps` (no bid), `v1` may be only an upper bound
/// at most `eps`. A bid computed from the upper bound `v2` raises the dual by at least
/// `eps` and keeps epsilon complementary slackness, like one from the exact value.
#[inline]
fn best_cached<S: Score, D: Score>(
    g: &Graph<S>,
    f: i64,
    duals: &[D],
    i: usize,
    eps: i64,
    top: &mut Top2<D>,
) -> (i64, i64, u32, i64) {
    let t = *top;
    let (wa, wb, rest) = (t.wa.get(), t.wb.get(), t.rest.get());
    let va = if t.a == NONE {
        i64::MIN
    } else {
        wa - duals[t.a as usize].get()
    };
    let vb = if t.b == NONE {
        i64::MIN
    } else {
        wb - duals[t.b as usize].get()
    };
    let (hi, lo, j, w) = if va >= vb {
        (va, vb, t.a, wa)
    } else {
        (vb, va, t.b, wb)
    };
    if hi >= rest {
        return (hi, lo.max(rest), j, w);
    }
    if rest <= eps {
        return (rest, 0, NONE, 0);
    }
    best_scan(g, f, duals, i, top)
}

/// Run the auction; raises `prices` in place and returns the column of each row
/// (`u32::MAX` when unassigned). Gauss-Seidel bidding, FIFO queue of free rows.
pub(crate) fn auction(g: &Graph, prices: &mut [i64], plan: &AuctionPlan) -> Vec<u32> {
    let n = g.n();
    let mut owner = vec![NONE; prices.len()];
    let mut assign = vec![NONE; n];
    let mut eps = plan.eps_start.max(1);
    let mut work = 0usize;
    let mut queue: VecDeque<u32> = VecDeque::with_capacity(n);
    loop {
        owner.fill(NONE);
        assign.fill(NONE);
        queue.clear();
        queue.extend(0..n as u32);
        for _settle in 0..SETTLE_ROUNDS {
            while let Some(i) = queue.pop_front() {
                let range = g.edges(i as usize);
                work += range.len();
                let (mut v1, mut v2) = (plan.reserve, plan.reserve);
                let (mut j1, mut w1) = (NONE, 0i64);
                for e in range {
                    let j = g.adj[e];
                    let v = g.w[e] - prices[j as usize];
                    if v > v1 {
                        v2 = v1;
                        v1 = v;
                        j1 = j;
                        w1 = g.w[e];
                    } else if v > v2 {
                        v2 = v;
                    }
                }
                if j1 == NONE {
                    continue;
                }
                prices[j1 as usize] = w1 - v2 + eps;
                let previous = owner[j1 as usize];
                owner[j1 as usize] = i;
                assign[i as usize] = j1;
                if previous != NONE {
                    assign[previous as usize] = NONE;
                    queue.push_back(previous);
                }
                if work > plan.budget {
                    return assign;
                }
            }
            // With an outside option, objects nobody holds must end at price 0; dropping
            // stale prices lets the rows that walked away bid again.
            let mut stale = false;
            if plan.reserve >= 0 {
                for (j, price) in prices.iter_mut().enumerate() {
                    if owner[j] == NONE && *price > 0 {
                        *price = 0;
                        stale = true;
                    }
                }
            }
            if !stale {
                break;
            }
            // Re-queue free rows, and held rows that the lower prices leave more than
            // epsilon away from their best value.
            for (i, slot) in assign.iter_mut().enumerate().take(n) {
                let held = *slot;
                let mut best = plan.reserve;
                let mut held_value = i64::MIN;
                for e in g.edges(i) {
                    let j = g.adj[e];
                    let v = g.w[e] - prices[j as usize];
                    best = best.max(v);
                    if j == held {
                        held_value = held_value.max(v);
                    }
                }
                if held == NONE {
                    if best > plan.reserve {
                        queue.push_back(i as u32);
                    }
                } else if held_value + eps < best {
                    owner[held as usize] = NONE;
                    *slot = NONE;
                    queue.push_back(i as u32);
                }
            }
            work += g.adj.len();
        }
        if eps == 1 {
            return assign;
        }
        eps = (eps / plan.factor.max(2)).max(1);
    }
}

/// Settings of [`optional_auction`] (scores are multiplied by `scale` on the fly).
pub(crate) struct OptionalPlan {
    /// The scale `F` of the scores (prices are in units of `1 / F` score units).
    pub scale: i64,
    /// Epsilon of the first phase (>= 1); each phase divides it by `factor`.
    pub eps_start: i64,
    pub factor: i64,
    /// The last phase is the first one whose epsilon is at most this (>= 1).
    pub eps_stop: i64,
}

/// The result of [`optional_auction`]: mates on both sides and the transposed graph when
/// the reverse auction needed it.
pub(crate) struct OptionalAuction<S: Score> {
    pub row_to_col: Vec<u32>,
    pub col_to_row: Vec<u32>,
    pub transposed: Option<Graph<S>>,
}

/// A bid: row `row` for its best column `col` (scaled score `score`), `second` the value
/// of its second best.
#[derive(Clone, Copy)]
struct Bid {
    row: u32,
    col: u32,
    score: i64,
    second: i64,
}

/// The row profits `pi`, each row's column `x` and each column's row `y`.
struct Holding<'a, D> {
    pi: &'a mut [D],
    x: &'a mut [u32],
    y: &'a mut [u32],
}

/// One forward bid of the free row `i` for its best column `j1` (value `v1 > eps`,
/// second best `v2`, scaled score `w1`): the row keeps a profit of `max(v2 - eps, 0)`,
/// so the price rises by at least `eps`. Returns the row it displaces, if any.
#[inline]
fn bid<D: Score>(b: Bid, eps: i64, prices: &mut [D], h: &mut Holding<'_, D>) -> Option<u32> {
    let Bid {
        row: i,
        col: j1,
        score: w1,
        second: v2,
    } = b;
    let Holding { pi, x, y } = h;
    let profit = (v2 - eps).max(0);
    prices[j1 as usize] = D::from_i64(w1 - profit);
    pi[i as usize] = D::from_i64(profit);
    x[i as usize] = j1;
    let previous = y[j1 as usize];
    y[j1 as usize] = i;
    (previous != NONE).then(|| {
        x[previous as usize] = NONE;
        pi[previous as usize] = D::ZERO;
        previous
    })
}

/// Graphs with at least this many edges build their transpose in parallel with the
/// first forward phase.
const PARALLEL_TRANSPOSE_EDGES: usize = 1 << 16;

/// Ask the CPU to bring the cache line holding `*p` closer (a hint: no effect on
/// results, nothing on targets without the instruction).
#[inline(always)]
pub(crate) fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and changes no memory; `p` is a valid reference.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((p as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Bidders ahead in the queue whose offsets, edge lists and far-side duals are fetched
/// before their turn (three stages, so that each stage's loads have landed when the next
/// stage reads them).
const AHEAD_OFF: usize = 24;
const AHEAD_EDGES: usize = 16;
const AHEAD_DUALS: usize = 8;

/// Prefetch the part of the bidding state that the bid of `queue[AHEAD_*]` will read:
/// its [`Top2`] and offsets, then the duals of its two cached far nodes and its edges,
/// then, when the cache will not settle the bid, the duals of all its far nodes.
#[inline(always)]
fn prefetch_ahead<S: Score, D: Score>(
    g: &Graph<S>,
    duals: &[D],
    tops: &[Top2<D>],
    eps: i64,
    queue: &VecDeque<u32>,
) {
    if let Some(&k) = queue.get(AHEAD_OFF) {
        prefetch(&tops[k as usize]);
        prefetch(&g.off[k as usize]);
    }
    if let Some(&k) = queue.get(AHEAD_EDGES) {
        let t = &tops[k as usize];
        if t.a != NONE {
            prefetch(&duals[t.a as usize]);
        }
        if t.b != NONE {
            prefetch(&duals[t.b as usize]);
        }
        let r = g.edges(k as usize);
        let mut e = r.start;
        while e < r.end {
            prefetch(&g.adj[e]);
            prefetch(&g.w[e]);
            e += 8;
        }
        if !r.is_empty() {
            prefetch(&g.adj[r.end - 1]);
            prefetch(&g.w[r.end - 1]);
        }
    }
    if let Some(&k) = queue.get(AHEAD_DUALS) {
        let t = &tops[k as usize];
        let value = |j: u32, w: D| {
            if j == NONE {
                i64::MIN
            } else {
                w.get() - duals[j as usize].get()
            }
        };
        let rest = t.rest.get();
        if value(t.a, t.wa).max(value(t.b, t.wb)) < rest && rest > eps {
            for e in g.edges(k as usize) {
                prefetch(&duals[g.adj[e] as usize]);
            }
        }
    }
}

/// The forward half of a phase: a sweep in which every row violating epsilon-CS bids at
/// once, then the rows displaced bid from a FIFO queue until every row holds a column
/// within epsilon of its best value or is within epsilon of its outside option.
///
/// The bids are memory-latency bound (a random row's edges, then the random prices of
/// its columns, then the column's holder), so the queue is processed in order while the
/// state of the bidders a few places behind is prefetched ([`prefetch_ahead`]).
fn forward_phase<S: Score, D: Score>(
    g: &Graph<S>,
    f: i64,
    eps: i64,
    prices: &mut [D],
    h: &mut Holding<'_, D>,
    tops: &mut [Top2<D>],
    queue: &mut VecDeque<u32>,
) {
    let n = g.n();
    for (i, top) in tops.iter_mut().enumerate().take(n) {
        if i + AHEAD_DUALS < n {
            for e in g.edges(i + AHEAD_DUALS) {
                prefetch(&prices[g.adj[e] as usize]);
            }
        }
        let (v1, v2, j1, w1) = best_scan(g, f, prices, i, top);
        let held = h.x[i];
        let violating = if held == NONE {
            v1 > eps
        } else {
            h.pi[i].get() < v1 - eps
        };
        if violating {
            if held != NONE {
                h.y[held as usize] = NONE;
            }
            queue.extend(bid(
                Bid {
                    row: i as u32,
                    col: j1,
                    score: w1,
                    second: v2,
                },
                eps,
                prices,
                h,
            ));
        }
    }
    while let Some(i) = queue.pop_front() {
        prefetch_ahead(g, prices, tops, eps, queue);
        if h.x[i as usize] != NONE {
            continue;
        }
        let (v1, v2, j1, w1) = best_cached(g, f, prices, i as usize, eps, &mut tops[i as usize]);
        if v1 > eps {
            queue.extend(bid(
                Bid {
                    row: i,
                    col: j1,
                    score: w1,
                    second: v2,
                },
                eps,
                prices,
                h,
            ));
        }
    }
}

/// Forward/reverse auction with epsilon-scaling for the maximum-weight matching in
/// which every row and every column may stay unmatched (outside option 0 on both sides;
/// after Bertsekas and Castanon's forward/reverse auction for asymmetric assignment).
///
/// Invariants at the end of each phase (scaled units, `W = scale * w`), with row profits
/// `pi` (`pi_i = W_ij - p_j` when matched to `j`, 0 when unmatched) and prices `p`:
/// `pi_i + p_j >= W_ij - eps` on every edge, `pi >= 0`, `p >= 0`, and unmatched columns
/// have `p = 0` (epsilon complementary slackness, outside options included). A phase
/// first sweeps the rows in order: each row violating the new epsilon (a free row whose
/// best value exceeds it, a matched row more than epsilon below its best) bids at once;
/// then the rows displaced bid from a FIFO queue (forward auction, Gauss-Seidel: prices only
/// rise, each bid by at least epsilon; a row whose best value is within epsilon of its
/// outside option stays out). Then the reverse auction: each unmatched column with a
/// positive price bids for its best row (value `W_ij - pi_i`), raising that row's profit
/// by at least epsilon and freeing the row's former column, or drops its price to 0 when
/// no row would gain more than epsilon. Profits only rise in the reverse auction, so the
/// rows stay satisfied and the invariants hold when it ends. The dual gap is then at most
/// `n_rows * eps` (scaled): with `eps = 1` and `scale > n_rows` the matching is optimal.
///
/// Cost per phase: one pass over the edges plus the bids (forward bids scan a row, reverse
/// bids a column of the transposed graph, built on the first reverse bid). Both kinds of
/// bidders wait in FIFO queues so that the memory of the next few can be prefetched, and
/// a bidder that bids again in the same half-phase first tries its cached two best
/// candidates ([`Top2`]), which spares most rescans. The duals are of type `D`: `i32` when
/// the caller has checked that every scaled score and starting price fits, which halves
/// their random-access footprint. Memory: 20 (`i32`) or 32 bytes per row and per column
/// for the caches, on top of the duals and mates.
///
/// Iterations: at most `1 + log_factor(eps_start)` phases (epsilon divides by `factor`
/// down to `eps_stop`); within a phase every forward bid raises a price and every reverse
/// bid a profit by at least epsilon, and both stay within `[0, scale * max|w|]`, so a
/// phase ends after at most `(n_rows + n_cols) * scale * max|w| / eps` bids. The caller
/// bounds `scale * max|w|` by [`super::graph::max_abs_score`] of the shape.
pub(crate) fn optional_auction<S: Score, D: Score>(
    g: &Graph<S>,
    n_cols: usize,
    prices: &mut [D],
    plan: &OptionalPlan,
) -> OptionalAuction<S> {
    let n = g.n();
    let f = plan.scale;
    let mut x = vec![NONE; n];
    let mut y = vec![NONE; n_cols];
    let mut pi = vec![D::ZERO; n];
    huge_pages(&pi);
    let mut gt: Option<Graph<S>> = None;
    let mut eps = plan.eps_start.max(1);
    let mut queue: VecDeque<u32> = VecDeque::new();
    let mut cols: VecDeque<u32> = VecDeque::new();
    // Every forward phase's sweep scans every row, so the rows' caches need no reset.
    let mut row_tops = vec![Top2::STALE; n];
    let mut col_tops = vec![Top2::STALE; n_cols];
    huge_pages(&row_tops);
    huge_pages(&col_tops);
    loop {
        let mut forward = || {
            forward_phase(
                g,
                f,
                eps,
                prices,
                &mut Holding {
                    pi: &mut pi,
                    x: &mut x,
                    y: &mut y,
                },
                &mut row_tops,
                &mut queue,
            )
        };
        if gt.is_none() && g.adj.len() >= PARALLEL_TRANSPOSE_EDGES {
            // The reverse auction will need the transpose: build it on the other core
            // while the first forward phase runs.
            let (t, ()) = rayon::join(|| g.transpose(n_cols), forward);
            gt = Some(t);
        } else {
            forward();
        }
        // Reverse auction: unmatched columns with a positive price bid for rows.
        cols.clear();
        cols.extend(
            (0..n_cols as u32).filter(|&j| y[j as usize] == NONE && prices[j as usize] > D::ZERO),
        );
        if !cols.is_empty() {
            let t = gt.get_or_insert_with(|| g.transpose(n_cols));
            // The forward phase lowered profits: the columns' caches are stale.
            col_tops.fill(Top2::STALE);
            while let Some(j) = cols.pop_front() {
                prefetch_ahead(t, &pi, &col_tops, eps, &cols);
                let ju = j as usize;
                let (b1, b2, i1, w1) = best_cached(t, f, &pi, ju, eps, &mut col_tops[ju]);
                if b1 <= eps {
                    prices[ju] = D::ZERO;
                    continue;
                }
                let price = (b2 - eps).max(0);
                prices[ju] = D::from_i64(price);
                let i1u = i1 as usize;
                pi[i1u] = D::from_i64(w1 - price);
                let old = x[i1u];
                x[i1u] = j;
                y[ju] = i1;
                if old != NONE {
                    y[old as usize] = NONE;
                    if prices[old as usize] > D::ZERO {
                        cols.push_back(old);
                    }
                }
            }
        }
        if eps <= plan.eps_stop.max(1) {
            return OptionalAuction {
                row_to_col: x,
                col_to_row: y,
                transposed: gt,
            };
        }
        eps = (eps / plan.factor.max(2)).max(1);
    }
}

#[cfg(test)]
mod tests;
