//! The `join_wire` harness: every join message decoder, given genuine, replaced, fuzzed,
//! edited, cut or extended messages of a real session.

use _core::join::vole::protocol::{Receiver as VoleReceiver, Sender as VoleSender};
use _core::join::vole::stream::{
    StreamReceiver as VoleStreamReceiver, StreamSender as VoleStreamSender,
};
use _core::join::{
    KeyKind, Mode, Options, Payload, PayloadColumn, Receiver, Sender, StrColumn, StreamReceiver,
    StreamSender, Suite,
};
use arbitrary::{Arbitrary, Unstructured};

use super::init;

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
