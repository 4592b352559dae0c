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

use crate::budget::{try_filled, Need};
use crate::error::{CoreError, CoreResult};

pub(crate) use super::graph::{huge_pages, Graph, Score, INF, NONE};
pub use super::graph::{max_abs_score, SAFE_SPAN};
use super::repair::*;

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

/// A sparse bipartite problem: edge `k` joins row `rows[k]` (of `n_rows`) to column
/// `cols[k]` (of `n_cols`) with the integer score `scores[k]`.
#[derive(Debug, Clone, Copy)]
pub struct SparseProblem<'a> {
    pub rows: &'a [i64],
    pub cols: &'a [i64],
    pub scores: &'a [i64],
    pub n_rows: usize,
    pub n_cols: usize,
}

/// How [`solve_sparse`] solves a [`SparseProblem`]: `perfect` (every row matched, or
/// infeasible) or optional, column prices to warm-start from, and the start.
#[derive(Debug, Clone, Copy)]
pub struct SparseOptions<'a> {
    pub perfect: bool,
    pub col_prices: Option<&'a [f64]>,
    pub start: Start,
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
pub fn solve_sparse(
    problem: SparseProblem<'_>,
    options: SparseOptions<'_>,
) -> CoreResult<SparseSolution> {
    let SparseProblem {
        rows,
        cols,
        scores,
        n_rows,
        n_cols,
    } = problem;
    let SparseOptions {
        perfect,
        col_prices,
        start,
    } = options;
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
                Sides {
                    a: &mut u,
                    b: &mut p,
                    mate_a: &mut x,
                    mate_b: &mut y,
                },
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
                Sides {
                    a: &mut u,
                    b: &mut p,
                    mate_a: &mut x,
                    mate_b: &mut y,
                },
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
mod tests;
