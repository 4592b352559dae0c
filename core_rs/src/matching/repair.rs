//! Shortest augmenting paths for the sparse solver: a Dijkstra search over reduced costs
//! with a bucket queue, run in phases from every free row until no path improves the
//! matching (the exact finish after the auction's start, and the whole solve from cold).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::graph::{Graph, Score, INF, NONE};

/// Largest bucket queue of the phased repair (distances beyond use the heap).
const BUCKETS: i64 = 1 << 16;

/// The two sides' duals and mates a search reads and updates: near side `a`, `mate_a`;
/// far side `b`, `mate_b`.
pub(crate) struct Sides<'a> {
    pub(crate) a: &'a mut [i64],
    pub(crate) b: &'a mut [i64],
    pub(crate) mate_a: &'a mut [u32],
    pub(crate) mate_b: &'a mut [u32],
}

/// Scratch space of the shortest-path search, sized by the far side.
pub(crate) struct Search {
    pub(crate) d: Vec<i64>,
    pub(crate) pred: Vec<u32>,
    pub(crate) scanned: Vec<bool>,
    pub(crate) touched: Vec<u32>,
    pub(crate) scanned_list: Vec<u32>,
    pub(crate) tree: Vec<(u32, i64)>,
    pub(crate) heap: BinaryHeap<Reverse<(i64, u32)>>,
    /// Bucket queue for the distances below `cap` (0: the heap holds everything).
    pub(crate) buckets: Vec<Vec<u32>>,
    pub(crate) cap: usize,
    pub(crate) cur: usize,
}

impl Search {
    pub(crate) fn new(far: usize) -> Self {
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
    pub(crate) fn use_buckets(&mut self, cap: usize) {
        if self.buckets.len() < cap {
            self.buckets.resize_with(cap, Vec::new);
        }
        self.cap = cap;
        self.cur = 0;
    }

    /// The next (distance, node) in non-decreasing distance order (may be stale).
    pub(crate) fn pop(&mut self) -> Option<(i64, u32)> {
        while self.cur < self.cap {
            if let Some(j) = self.buckets[self.cur].pop() {
                return Some((self.cur as i64, j));
            }
            self.cur += 1;
        }
        self.heap.pop().map(|Reverse(t)| t)
    }

    pub(crate) fn reset(&mut self) {
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

    pub(crate) fn relax<S: Score>(&mut self, g: &Graph<S>, i: u32, di: i64, a: &[i64], b: &[i64]) {
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

pub(crate) enum End {
    Far(u32),
    NearSink(u32),
    Stuck,
}

/// Restore complementary slackness at the free near-side node `start`.
///
/// Near side: duals `a`, mates `mate_a`; far side: duals `b`, mates `mate_b`. With
/// `near_sink` a near node may end unmatched once its dual is zero. Returns false when
/// no augmenting path exists (only possible without `near_sink`); nothing changes then.
pub(crate) fn search<S: Score>(
    g: &Graph<S>,
    start: u32,
    sides: Sides<'_>,
    near_sink: bool,
    s: &mut Search,
) -> bool {
    let Sides {
        a,
        b,
        mate_a,
        mate_b,
    } = sides;
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
pub(crate) struct Phases {
    pub(crate) s: Search,
    /// Phase stamp of the columns the augmenting DFS has entered.
    pub(crate) seen: Vec<u32>,
    pub(crate) stamp: u32,
    /// DFS stack: (row, next edge, column through which the row was entered).
    pub(crate) stack: Vec<(u32, usize, u32)>,
}

impl Phases {
    pub(crate) fn new(far: usize) -> Self {
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
pub(crate) fn phased_repair<S: Score>(
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
