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
use _core::candidates::score::Weights;
use _core::candidates::{generate, CandidateIndex, Enterprises, Parks, Spaces};
use _core::carbon::audit;
use _core::carbon::scope2::{self, LossPolicy, PvSharing, Scope2Input};
use _core::carbon::{allocate_pro_rata, shapley_allocation, ShapleyOptions};
use _core::join::vole::protocol::{Receiver as VoleReceiver, Sender as VoleSender};
use _core::join::vole::stream::{
    StreamReceiver as VoleStreamReceiver, StreamSender as VoleStreamSender,
};
use _core::join::{
    KeyKind, Mode, Options, Payload, PayloadColumn, Receiver, Sender, StrColumn, StreamReceiver,
    StreamSender, Suite,
};
use _core::matching::stable::deferred_acceptance;
use _core::matching::{solve_sparse, SparseOptions, SparseProblem, Start};
use arbitrary::{Arbitrary, Result, Unstructured};

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

/// A column of `n` distinct text keys `k0, k1, ...`, shifted by `first`.
fn key_column(n: usize, first: usize) -> (Vec<i64>, Vec<u8>) {
    let mut offsets = vec![0_i64];
    let mut data = Vec::new();
    for i in first..first + n {
        data.extend_from_slice(format!("K{i}").as_bytes());
        offsets.push(data.len() as i64);
    }
    (offsets, data)
}

fn col<'a>(c: &'a (Vec<i64>, Vec<u8>)) -> StrColumn<'a> {
    StrColumn {
        offsets: &c.0,
        data: &c.1,
    }
}

/// What the harness does to a genuine message before handing it to the decoder.
#[derive(Arbitrary, Debug)]
enum Mutation {
    /// The fuzzer's bytes replace the whole message.
    Raw(Vec<u8>),
    /// The genuine header (right kind, mode, flags and session ids), then the fuzzer's body.
    Body(Vec<u8>),
    /// The genuine message with bytes overwritten, then cut or extended.
    Edit {
        edits: Vec<(u16, u8)>,
        cut: Option<u16>,
        tail: Vec<u8>,
    },
}

fn mutate(genuine: &[u8], m: &Mutation) -> Vec<u8> {
    match m {
        Mutation::Raw(b) => b.clone(),
        Mutation::Body(b) => {
            let mut out = genuine[..genuine.len().min(40)].to_vec();
            out.extend_from_slice(b);
            out
        }
        Mutation::Edit { edits, cut, tail } => {
            let mut out = genuine.to_vec();
            for &(at, byte) in edits {
                if !out.is_empty() {
                    let k = usize::from(at) % out.len();
                    out[k] ^= byte;
                }
            }
            if let Some(c) = cut {
                out.truncate(usize::from(*c));
            }
            out.extend_from_slice(tail);
            out
        }
    }
}

/// Which decoder receives the mutated message.
#[derive(Arbitrary, Debug)]
enum Target {
    /// `Sender::respond(request)`.
    Request,
    /// `Receiver::request(Some(setup))` (sum mode reads it, the others check its header).
    SetupToRequest,
    /// `Receiver::finish(setup, genuine response)`.
    SetupToFinish,
    /// `Receiver::finish(genuine setup, response)`.
    Response,
    /// `StreamSender::respond_part(request part)`.
    RequestPart,
    /// `StreamReceiver::receive_part(response part)`.
    ResponsePart,
    /// `StreamReceiver::match_part(setup part)`.
    SetupPart,
    /// VOLE: one of the five messages of a whole session (`mode % 6`: the setup given to
    /// `request`, the request, the VOLE message, the correction, the response, the setup
    /// given to `finish`), the others genuine.
    Vole,
    /// VOLE streaming: the same, for one bucket's part (`mode % 5`, the setup to
    /// `request_part`).
    VolePart,
}

#[derive(Arbitrary, Debug)]
struct PsiCase {
    target: Target,
    mode: u8,
    verifiable: bool,
    n_server: u8,
    n_client: u8,
    mutation: Mutation,
}

fn options(mode: u8, verifiable: bool) -> Options {
    let mode = match mode % 4 {
        0 => Mode::Intersection,
        1 => Mode::Labelled,
        2 => Mode::Cardinality,
        _ => Mode::Sum,
    };
    let verifiable = verifiable && matches!(mode, Mode::Intersection | Mode::Labelled);
    Options {
        mode,
        verifiable,
        key_kind: KeyKind::Text,
        suite: Suite::default_for(verifiable),
    }
}

/// Every message decoder of the PSI protocol (one-shot and streaming), fed a genuine
/// message of a real session, mutated.
pub fn join_wire(data: &[u8]) {
    init();
    let Ok(case) = PsiCase::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let (ns, nc) = (
        usize::from(case.n_server % 6),
        usize::from(case.n_client % 6),
    );
    let server_keys = key_column(ns, 0);
    let client_keys = key_column(nc, 2);
    match case.target {
        Target::RequestPart | Target::ResponsePart | Target::SetupPart => {
            join_stream(&case, &server_keys, &client_keys);
            return;
        }
        Target::Vole => {
            join_vole(&case, &server_keys, &client_keys);
            return;
        }
        Target::VolePart => {
            join_vole_part(&case, &server_keys, &client_keys);
            return;
        }
        _ => {}
    }
    let opts = options(case.mode, case.verifiable);
    let payload = (opts.mode == Mode::Labelled).then(|| Payload {
        columns: vec![PayloadColumn {
            offsets: server_keys.0.clone(),
            data: server_keys.1.clone(),
            valid: None,
        }],
        schema: b"schema".to_vec(),
    });
    let values: Vec<u64> = (0..nc as u64).collect();
    let values = (opts.mode == Mode::Sum).then_some(values.as_slice());
    let (Ok(mut server), Ok(mut client)) = (
        Sender::new(col(&server_keys), payload, opts, 1),
        Receiver::new(col(&client_keys), values, opts, false),
    ) else {
        panic!("a session over valid keys must start");
    };
    let Ok(setup) = server.setup_message() else {
        panic!("setup of a valid session");
    };
    let fuzzed = |genuine: &[u8]| mutate(genuine, &case.mutation);
    match case.target {
        Target::SetupToRequest => {
            let _ = client.request(Some(&fuzzed(&setup)));
        }
        _ => {
            let Ok(request) = client.request(Some(&setup)) else {
                panic!("request of a valid session");
            };
            if let Target::Request = case.target {
                let _ = server.respond(&fuzzed(&request));
                return;
            }
            let Ok(response) = server.respond(&request) else {
                panic!("response of a valid session");
            };
            let _ = match case.target {
                Target::SetupToFinish => client.finish(&fuzzed(&setup), &response),
                _ => client.finish(&setup, &fuzzed(&response)),
            };
        }
    }
}

/// A whole VOLE session over valid keys, one message of it mutated (`case.mode % 6`).
fn join_vole(case: &PsiCase, server_keys: &(Vec<i64>, Vec<u8>), client_keys: &(Vec<i64>, Vec<u8>)) {
    let (Ok(mut s), Ok(mut r)) = (
        VoleSender::new(col(server_keys), KeyKind::Text),
        VoleReceiver::new(col(client_keys), KeyKind::Text),
    ) else {
        panic!("a VOLE session over valid keys must start");
    };
    let step = case.mode % 6;
    let fuzzed = |genuine: &[u8]| mutate(genuine, &case.mutation);
    let Ok(setup) = s.setup_message() else {
        panic!("VOLE setup of a valid session");
    };
    if step == 0 {
        let _ = r.request(&fuzzed(&setup));
        return;
    }
    let Ok(request) = r.request(&setup) else {
        panic!("VOLE request of a valid session");
    };
    if step == 1 {
        let _ = s.respond(&fuzzed(&request));
        return;
    }
    let Ok(vole) = s.respond(&request) else {
        panic!("VOLE message of a valid session");
    };
    if step == 2 {
        let _ = r.correction(&fuzzed(&vole));
        return;
    }
    let Ok(correction) = r.correction(&vole) else {
        panic!("VOLE correction of a valid session");
    };
    if step == 3 {
        let _ = s.respond(&fuzzed(&correction));
        return;
    }
    let Ok(response) = s.respond(&correction) else {
        panic!("VOLE response of a valid session");
    };
    let _ = match step {
        4 => r.finish(&setup, &fuzzed(&response)),
        _ => r.finish(&fuzzed(&setup), &response),
    };
}

/// Bucket 0 of a streaming VOLE session over valid keys, one message mutated.
fn join_vole_part(
    case: &PsiCase,
    server_keys: &(Vec<i64>, Vec<u8>),
    client_keys: &(Vec<i64>, Vec<u8>),
) {
    let buckets = 1_u32 << (case.n_server % 3);
    let (Ok(mut s), Ok(mut r)) = (
        VoleStreamSender::new(KeyKind::Text, buckets),
        VoleStreamReceiver::new(KeyKind::Text, buckets),
    ) else {
        panic!("a streaming VOLE session must start");
    };
    let (Ok((theirs, tb)), Ok((mine, mb))) = (
        s.hash_batch(col(server_keys), 0),
        r.hash_batch(col(client_keys), 0),
    ) else {
        panic!("hashes of valid keys");
    };
    let (Ok(()), Ok(())) = (s.begin(theirs.len() as u64), r.begin(mine.len() as u64)) else {
        panic!("begin of a valid session");
    };
    let in_bucket = |h: &[u128], b: &[u32]| -> Vec<u128> {
        h.iter()
            .zip(b)
            .filter(|(_, &k)| k == 0)
            .map(|(&x, _)| x)
            .collect()
    };
    let (theirs, mine) = (in_bucket(&theirs, &tb), in_bucket(&mine, &mb));
    let fuzzed = |genuine: &[u8]| mutate(genuine, &case.mutation);
    let step = case.mode % 5;
    let Ok(setup) = s.setup_part(0, theirs) else {
        panic!("setup part of a valid session");
    };
    if step == 0 {
        let _ = r.request_part(&fuzzed(&setup), &mine);
        return;
    }
    let Ok(request) = r.request_part(&setup, &mine) else {
        panic!("request part of a valid session");
    };
    if step == 1 {
        let _ = s.respond_part(&fuzzed(&request));
        return;
    }
    let Ok(vole) = s.respond_part(&request) else {
        panic!("VOLE part of a valid session");
    };
    if step == 2 {
        let _ = r.correction_part(&fuzzed(&vole));
        return;
    }
    let Ok(correction) = r.correction_part(&vole) else {
        panic!("correction part of a valid session");
    };
    if step == 3 {
        let _ = s.respond_part(&fuzzed(&correction));
        return;
    }
    let Ok(response) = s.respond_part(&correction) else {
        panic!("response part of a valid session");
    };
    let _ = r.finish_part(&fuzzed(&response));
}

fn join_stream(
    case: &PsiCase,
    server_keys: &(Vec<i64>, Vec<u8>),
    client_keys: &(Vec<i64>, Vec<u8>),
) {
    let opts = options(0, false);
    let buckets = 1_u32 << (case.mode % 3);
    let (Ok(mut server), Ok(mut client)) = (
        StreamSender::new(opts, buckets),
        StreamReceiver::new(opts, buckets),
    ) else {
        panic!("a streaming session must start");
    };
    let (Ok(tags), Ok((offsets, data, _bucket))) = (
        server.tags(col(server_keys), 0),
        client.partition(col(client_keys), 0),
    ) else {
        panic!("tags and partition of valid keys");
    };
    let canon = (offsets, data);
    let Ok(request) = client.request_part(0, col(&canon)) else {
        panic!("request part of a valid session");
    };
    match case.target {
        Target::RequestPart => {
            let _ = server.respond_part(&mutate(&request, &case.mutation));
        }
        Target::ResponsePart => {
            let Ok(response) = server.respond_part(&request) else {
                panic!("response part of a valid session");
            };
            let _ = client.receive_part(&mutate(&response, &case.mutation));
        }
        _ => {
            let mut sorted: Vec<&[u8]> = tags.chunks(12).collect();
            sorted.sort_unstable();
            let flat: Vec<u8> = sorted.concat();
            let Ok(part) = server.setup_part(0, &flat) else {
                return;
            };
            let rows: Vec<i64> = (0..flat.len() as i64 / 12).collect();
            let _ = client.match_part(&mutate(&part, &case.mutation), &flat, &rows);
        }
    }
}

// --- Matching ------------------------------------------------------------------------

fn edges(u: &mut Unstructured<'_>, n_rows: usize, n_cols: usize) -> Result<(Vec<i64>, Vec<i64>)> {
    let e = size(u, 64)?.min(4096);
    let index = |u: &mut Unstructured<'_>, n: usize| -> Result<i64> {
        let raw = i64::arbitrary(u)?;
        // Mostly in range, sometimes anything (negative, out of range).
        Ok(if raw & 7 == 0 || n == 0 {
            raw >> 3
        } else {
            ((raw >> 3).unsigned_abs() % n as u64) as i64
        })
    };
    let mut rows = Vec::new();
    let mut cols = Vec::new();
    for _ in 0..e {
        rows.push(index(u, n_rows)?);
        cols.push(index(u, n_cols)?);
    }
    Ok((rows, cols))
}

fn sparse_case(u: &mut Unstructured<'_>) -> Result<()> {
    let n_rows = size(u, 24)?;
    let n_cols = size(u, 24)?;
    let (rows, cols) = edges(u, n_rows, n_cols)?;
    let wide = bool::arbitrary(u)?;
    let scores: Vec<i64> = vec_of(rows.len(), || {
        let s = i64::arbitrary(u)?;
        Ok(if wide { s } else { s % 1000 })
    })?;
    let perfect = bool::arbitrary(u)?;
    let start = if bool::arbitrary(u)? {
        Start::Auction
    } else {
        Start::Greedy
    };
    let prices = if bool::arbitrary(u)? {
        Some(reals(u, n_cols.min(64))?)
    } else {
        None
    };
    let Ok(sol) = solve_sparse(
        SparseProblem {
            rows: &rows,
            cols: &cols,
            scores: &scores,
            n_rows,
            n_cols,
        },
        SparseOptions {
            perfect,
            col_prices: prices.as_deref(),
            start,
        },
    ) else {
        return Ok(());
    };
    certify(&sol, &rows, &cols, &scores, perfect);
    Ok(())
}

/// The solution is a matching and, when feasible, its duals certify optimality.
fn certify(
    sol: &_core::matching::SparseSolution,
    rows: &[i64],
    cols: &[i64],
    w: &[i64],
    perfect: bool,
) {
    let scale = i128::from(sol.dual_scale);
    for (i, &j) in sol.row_to_col.iter().enumerate() {
        if j >= 0 {
            assert_eq!(sol.col_to_row[j as usize], i as i64, "mates disagree");
        }
    }
    if !sol.feasible {
        return;
    }
    let (u, p) = (&sol.u, &sol.p);
    for k in 0..rows.len() {
        let (i, j) = (rows[k] as usize, cols[k] as usize);
        assert!(
            i128::from(u[i]) + i128::from(p[j]) >= i128::from(w[k]) * scale,
            "edge {k} violates its dual constraint"
        );
    }
    let mut total = 0_i128;
    for (i, &j) in sol.row_to_col.iter().enumerate() {
        if j < 0 {
            assert!(perfect || u[i] == 0, "free row {i} with a positive dual");
            continue;
        }
        let best = (0..rows.len())
            .filter(|&k| rows[k] == i as i64 && cols[k] == j)
            .map(|k| w[k])
            .max();
        let Some(best) = best else {
            panic!("row {i} matched along a pair that is not an edge");
        };
        total += i128::from(best);
        assert_eq!(
            i128::from(u[i]) + i128::from(p[j as usize]),
            i128::from(best) * scale,
            "matched edge of row {i} not tight"
        );
    }
    for (j, &i) in sol.col_to_row.iter().enumerate() {
        assert!(p[j] >= 0, "negative price");
        assert!(i >= 0 || p[j] == 0, "free column {j} with a positive price");
    }
    assert_eq!(
        i128::from(sol.total),
        total,
        "total is not the matched scores' sum"
    );
}

/// `solve_sparse` on made-up shapes, edges, scores and warm prices.
pub fn sparse(data: &[u8]) {
    init();
    let _ = sparse_case(&mut Unstructured::new(data));
}

fn stable_case(u: &mut Unstructured<'_>) -> Result<()> {
    let n = size(u, 24)?;
    let m = size(u, 16)?.min(4096);
    let capacities: Vec<i64> = vec_of(m, || Ok(i64::from(i8::arbitrary(u)?)))?;
    let (rows, cols) = edges(u, n, m)?;
    let ps = reals(u, rows.len())?;
    let rs = reals(u, rows.len())?;
    let declared = if bool::arbitrary(u)? { Some(n) } else { None };
    let Ok(out) = deferred_acceptance(&rows, &cols, &ps, &rs, &capacities, declared) else {
        return Ok(());
    };
    let mut held = vec![0_i64; m];
    for (p, &r) in out.iter().enumerate() {
        if r >= 0 {
            let r = r as usize;
            assert!(r < m, "receiver out of range");
            held[r] += 1;
            assert!(
                (0..rows.len()).any(|k| rows[k] == p as i64 && cols[k] == r as i64),
                "proposer {p} matched along a pair that is not acceptable"
            );
        }
    }
    for (r, (&h, &c)) in held.iter().zip(&capacities).enumerate() {
        assert!(h <= c, "receiver {r} holds {h} over its capacity {c}");
    }
    Ok(())
}

/// `deferred_acceptance` on made-up sizes (declared proposer counts included).
pub fn stable(data: &[u8]) {
    init();
    let _ = stable_case(&mut Unstructured::new(data));
}

// --- Candidate index -----------------------------------------------------------------

fn candidates_case(u: &mut Unstructured<'_>) -> Result<()> {
    let np = size(u, 6)?.min(64);
    let ns = size(u, 12)?.min(256);
    let ne = size(u, 12)?.min(256);
    let mask = |u: &mut Unstructured<'_>| -> Result<[u64; 2]> {
        Ok([u64::arbitrary(u)?, u64::arbitrary(u)?])
    };
    let nt = size(u, 8)?.min(64);
    let mut tenant_indptr = vec![0_usize];
    for p in 0..np {
        // Usually a valid CSR index over the `nt` entries, sometimes not.
        let step = if p + 1 == np && bool::arbitrary(u)? {
            nt.saturating_sub(tenant_indptr[p])
        } else {
            size(u, 3)?.min(64)
        };
        tenant_indptr.push(tenant_indptr[p] + step);
    }
    let parks = Parks {
        lat: reals(u, np)?,
        lon: reals(u, np)?,
        industry_mask: vec_of(np, || mask(u))?,
        remaining_co2e_t: reals(u, np)?,
        tenant_indptr,
        tenant_div: vec_of(nt, || Ok(u8::arbitrary(u)? % 100))?,
        tenant_share: reals(u, nt)?,
    };
    let spaces = Spaces {
        park: vec_of(ns, || Ok(u32::from(u8::arbitrary(u)?) % (np as u32 + 1)))?,
        area_m2: reals(u, ns)?,
        floor_load_kn_m2: reals(u, ns)?,
        ceiling_height_m: reals(u, ns)?,
        power_kva: reals(u, ns)?,
        rent_cny_per_m2_month: reals(u, ns)?,
        hazardous_permit: vec_of(ns, || bool::arbitrary(u))?,
        available_from_day: vec_of(ns, || i32::arbitrary(u))?,
        kind: vec_of(ns, || Ok(u8::arbitrary(u)? % 9))?,
    };
    let enterprises = Enterprises {
        area_min_m2: reals(u, ne)?,
        area_max_m2: reals(u, ne)?,
        min_floor_load_kn_m2: reals(u, ne)?,
        min_ceiling_height_m: reals(u, ne)?,
        power_need_kva: reals(u, ne)?,
        max_rent_cny_per_m2_month: reals(u, ne)?,
        lat: reals(u, ne)?,
        lon: reals(u, ne)?,
        radius_km: reals(u, ne)?,
        hazardous_process: vec_of(ne, || bool::arbitrary(u))?,
        division: vec_of(ne, || Ok(u8::arbitrary(u)? % 100))?,
        kinds_mask: vec_of(ne, || u8::arbitrary(u))?,
        chain_mask: vec_of(ne, || mask(u))?,
        annual_co2e_t: reals(u, ne)?,
    };
    let affinity = if bool::arbitrary(u)? {
        reals(u, 97 * 97)?.iter().map(|a| a.abs().fract()).collect()
    } else {
        Vec::new()
    };
    let Ok(ix) = CandidateIndex::new(parks, spaces, enterprises, affinity) else {
        return Ok(());
    };
    let weights = Weights([real(u)?, real(u)?, real(u)?, real(u)?, real(u)?]);
    let k = size(u, 8)?;
    let now = i32::arbitrary(u)?;
    let active = if bool::arbitrary(u)? {
        Some(vec_of(ix.n_spaces(), || bool::arbitrary(u))?)
    } else {
        None
    };
    let Ok(c) = generate::generate(&ix, &weights, k, now, active.as_deref(), None) else {
        return Ok(());
    };
    assert_eq!(c.indptr.len(), ix.n_enterprises() + 1, "indptr length");
    assert_eq!(
        c.indptr.last().copied(),
        Some(c.cols.len() as i64),
        "indptr end"
    );
    for e in 0..ix.n_enterprises() {
        let (a, b) = (c.indptr[e] as usize, c.indptr[e + 1] as usize);
        assert!(a <= b, "indptr decreases");
        assert!(k == 0 || b - a <= k, "more than k candidates");
        for w in c.scores[a..b].windows(2) {
            assert!(w[0] >= w[1], "candidates not in score order");
        }
        for &s in &c.cols[a..b] {
            assert!((s as usize) < ix.n_spaces(), "candidate space out of range");
            if let Some(act) = &active {
                assert!(act[s as usize], "an inactive space offered");
            }
        }
    }
    Ok(())
}

/// Candidate index construction and generation over made-up tables.
pub fn candidates(data: &[u8]) {
    init();
    let _ = candidates_case(&mut Unstructured::new(data));
}

// --- Carbon ----------------------------------------------------------------------------

fn carbon_case(u: &mut Unstructured<'_>) -> Result<()> {
    match u8::arbitrary(u)? % 5 {
        0 => {
            let n = size(u, 8)?;
            let hours = size(u, 8)?.min(512);
            let total: Vec<i64> = vec_of(hours, || i64::arbitrary(u))?;
            let cells = n.saturating_mul(hours).min(4096);
            let use_ = reals(u, cells)?;
            if let Ok(r) = allocate_pro_rata(&total, &use_, n) {
                for (h, &t) in total.iter().enumerate() {
                    let col: i64 = (0..n).map(|i| r.alloc_g[i * hours + h]).sum();
                    assert_eq!(col + r.unallocated_g[h], t, "hour {h} not conserved");
                }
            }
        }
        1 => {
            let n = size(u, 8)?;
            let hours = size(u, 6)?;
            let cells = n.saturating_mul(hours).min(4096);
            let use_ = reals(u, cells)?;
            let k = size(u, 5)?.min(64);
            let xs = reals(u, k)?;
            let ys = reals(u, k)?;
            let options = ShapleyOptions {
                exact: Option::<bool>::arbitrary(u)?,
                samples: if bool::arbitrary(u)? {
                    Some(size(u, 64)?)
                } else {
                    None
                },
                seed: u64::arbitrary(u)?,
            };
            if let Ok(r) = shapley_allocation(&use_, n, hours, &xs, &ys, options) {
                let sum: i64 = r.co2e_g.iter().sum();
                assert_eq!(
                    sum + r.unallocated_g,
                    r.total_g,
                    "Shapley grams not conserved"
                );
            }
        }
        2 => {
            let rows = size(u, 16)?.min(1024);
            let mut offsets = vec![0_i64];
            let mut data = Vec::new();
            for _ in 0..rows {
                data.extend(Vec::<u8>::arbitrary(u)?.into_iter().take(8));
                offsets.push(data.len() as i64);
            }
            if bool::arbitrary(u)? {
                let k = offsets.len() - 1;
                offsets[usize::from(u8::arbitrary(u)?) % (k + 1)] = i64::arbitrary(u)?;
            }
            let index = size(u, 32)?;
            if let Ok(split) = audit::split_rows(&offsets, &data) {
                let leaves = audit::leaf_hashes(&split);
                let root = audit::root(&leaves);
                if let Ok(path) = audit::inclusion_proof(&leaves, index) {
                    let leaf = leaves[index];
                    assert!(
                        audit::verify_inclusion(
                            &leaf,
                            index as u64,
                            leaves.len() as u64,
                            &path,
                            &root
                        ),
                        "a genuine proof does not verify"
                    );
                }
            }
            let path: Vec<[u8; 32]> = vec_of(size(u, 8)?.min(64), || <[u8; 32]>::arbitrary(u))?;
            let _ = audit::verify_inclusion(
                &<[u8; 32]>::arbitrary(u)?,
                u64::arbitrary(u)?,
                u64::arbitrary(u)?,
                &path,
                &<[u8; 32]>::arbitrary(u)?,
            );
        }
        _ => {
            let n = size(u, 6)?;
            let hours = size(u, 6)?;
            let cells = n.saturating_mul(hours).min(4096);
            let small = |u: &mut Unstructured<'_>| -> Result<i64> {
                let v = i64::arbitrary(u)?;
                Ok(if v & 1 == 0 { v } else { (v >> 1) % 100_000 })
            };
            let load: Vec<i64> = vec_of(cells, || small(u))?;
            let pv: Vec<i64> = vec_of(hours.min(4096), || small(u))?;
            let nc = size(u, 3)?.min(8);
            let contract_wh: Vec<i64> = vec_of(nc.saturating_mul(hours).min(4096), || small(u))?;
            let contract_share: Vec<i64> = vec_of(nc.saturating_mul(n).min(4096), || small(u))?;
            let parts: Vec<i64> = vec_of(n.min(4096), || small(u))?;
            let order: Vec<usize> = vec_of(n.min(4096), || size(u, (n as u64).saturating_add(1)))?;
            let cert: Vec<i64> = vec_of(cells, || small(u))?;
            let gate: Vec<i64> = vec_of(hours.min(4096), || small(u))?;
            let input = Scope2Input {
                n,
                hours,
                load_wh: &load,
                pv_wh: &pv,
                pv_sharing: match u8::arbitrary(u)? % 3 {
                    0 => PvSharing::ProRata,
                    1 => PvSharing::ContractShare(&parts),
                    _ => PvSharing::Priority(&order),
                },
                contract_wh: &contract_wh,
                contract_share: &contract_share,
                certificate_wh: bool::arbitrary(u)?.then_some(cert.as_slice()),
                gate_import_wh: bool::arbitrary(u)?.then_some(gate.as_slice()),
                loss_policy: if bool::arbitrary(u)? {
                    LossPolicy::Landlord
                } else {
                    LossPolicy::GrossUp
                },
                location_ug_per_wh: small(u)?,
                residual_ug_per_wh: small(u)?,
                detail: bool::arbitrary(u)?,
            };
            let _ = scope2::scope2_compact(&input);
        }
    }
    Ok(())
}

/// Carbon entry points: pro-rata, Shapley (sizes, curves, sample counts), audit proofs
/// (offsets, indices, tree sizes), Scope 2 (declared tenants and hours).
pub fn carbon(data: &[u8]) {
    init();
    let _ = carbon_case(&mut Unstructured::new(data));
}
