//! Tests of [`super`]: streamed sessions equal the one-shot protocol.

use std::collections::BTreeSet;

use super::*;
use crate::join::tests::column;

fn opts() -> Options {
    Options {
        mode: Mode::Intersection,
        verifiable: false,
        key_kind: KeyKind::Text,
        suite: crate::join::Suite::ZoneOptV1,
    }
}

fn col<'a>(c: &'a (Vec<i64>, Vec<u8>)) -> StrColumn<'a> {
    StrColumn {
        offsets: &c.0,
        data: &c.1,
    }
}

/// The whole streaming flow in memory (buckets kept in vectors): matched rows, ascending.
fn stream(server_keys: &[String], client_keys: &[String], buckets: u32) -> Vec<i64> {
    let mut server = StreamSender::new(opts(), buckets).unwrap();
    let mut client = StreamReceiver::new(opts(), buckets).unwrap();
    // Sender: tags of two "record batches", spilled by tag prefix.
    let mut setup_buckets = vec![Vec::new(); buckets as usize];
    let half = server_keys.len() / 2;
    for (first, part) in [(0, &server_keys[..half]), (half, &server_keys[half..])] {
        let tags = server.tags(col(&column(part)), first).unwrap();
        for t in tags.chunks(TAG_LEN) {
            setup_buckets[tag_bucket(t, buckets) as usize].extend_from_slice(t);
        }
    }
    // Receiver: keys spilled by the secret hash.
    let (offsets, data, bucket) = client.partition(col(&column(client_keys)), 0).unwrap();
    let mut key_buckets: Vec<(Vec<String>, Vec<i64>)> =
        vec![(Vec::new(), Vec::new()); buckets as usize];
    for (row, &b) in bucket.iter().enumerate() {
        let k = &data[offsets[row] as usize..offsets[row + 1] as usize];
        key_buckets[b as usize]
            .0
            .push(String::from_utf8(k.to_vec()).unwrap());
        key_buckets[b as usize].1.push(row as i64);
    }
    let mut tag_buckets: Vec<(Vec<u8>, Vec<i64>)> =
        vec![(Vec::new(), Vec::new()); buckets as usize];
    for (b, (keys, rows)) in key_buckets.iter().enumerate() {
        let request = client.request_part(b as u32, col(&column(keys))).unwrap();
        let response = server.respond_part(&request).unwrap();
        let tags = client.receive_part(&response).unwrap();
        for (t, &row) in tags.chunks(TAG_LEN).zip(rows) {
            let tb = tag_bucket(t, buckets) as usize;
            tag_buckets[tb].0.extend_from_slice(t);
            tag_buckets[tb].1.push(row);
        }
    }
    let mut matched = Vec::new();
    for (t, (tags, rows)) in tag_buckets.iter().enumerate() {
        let setup = server.setup_part(t as u32, &setup_buckets[t]).unwrap();
        matched.extend(client.match_part(&setup, tags, rows).unwrap());
    }
    assert!(client.is_complete());
    matched.sort_unstable();
    matched
}

fn plain(server_keys: &[String], client_keys: &[String]) -> Vec<i64> {
    let s: BTreeSet<String> = server_keys
        .iter()
        .map(|k| k.trim().to_uppercase())
        .collect();
    client_keys
        .iter()
        .enumerate()
        .filter(|(_, k)| s.contains(&k.trim().to_uppercase()))
        .map(|(i, _)| i as i64)
        .collect()
}

#[test]
fn streamed_intersection_equals_plain_and_in_memory() {
    let server: Vec<String> = (0..3000).map(|i| format!("k{}", i % 2500)).collect();
    let client: Vec<String> = (1500..5000).map(|i| format!(" K{} ", i % 4000)).collect();
    let want = plain(&server, &client);
    assert!(!want.is_empty());
    for buckets in [1, 2, 16, 256] {
        assert_eq!(stream(&server, &client, buckets), want, "buckets {buckets}");
    }
    // The in-memory protocol on the same sets.
    let (so, co) = (column(&server), column(&client));
    let mut s = super::super::Sender::new(col(&so), None, opts(), 1).unwrap();
    let mut c = super::super::Receiver::new(col(&co), None, opts(), false).unwrap();
    let setup = s.setup_message().unwrap();
    let response = s.respond(&c.request(None).unwrap()).unwrap();
    assert_eq!(c.finish(&setup, &response).unwrap().indices, want);
    // Empty sides.
    assert!(stream(&[], &client, 4).is_empty());
    assert!(stream(&server, &[], 4).is_empty());
}

#[test]
fn replays_foreign_sessions_and_out_of_order_parts_are_refused() {
    let keys: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
    let c = column(&keys);
    let mut server = StreamSender::new(opts(), 2).unwrap();
    let mut client = StreamReceiver::new(opts(), 2).unwrap();
    let request = client.request_part(0, col(&c)).unwrap();
    assert!(client.request_part(1, col(&c)).is_err()); // one bucket at a time
    let response = server.respond_part(&request).unwrap();
    assert!(server.respond_part(&request).is_err()); // replayed request
    let mut other = StreamReceiver::new(opts(), 2).unwrap();
    let foreign = other.request_part(1, col(&c)).unwrap();
    assert!(server.respond_part(&foreign).is_err()); // another receiver
    let mut truncated = response.clone();
    truncated.truncate(response.len() - 5);
    assert!(client.receive_part(&truncated).is_err());
    let mut bad = response.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x80; // not a canonical encoding any more
    assert!(client.receive_part(&bad).is_err());
    client.receive_part(&response).unwrap();
    assert!(client.receive_part(&response).is_err()); // replayed response
    let tags = server.tags(col(&c), 0).unwrap();
    let part0: Vec<u8> = tags
        .chunks(TAG_LEN)
        .filter(|t| tag_bucket(t, 2) == 0)
        .flatten()
        .copied()
        .collect();
    assert!(server.setup_part(1, &part0).is_err() || part0.is_empty());
    let setup0 = server.setup_part(0, &part0).unwrap();
    // Setup before every bucket is exchanged.
    assert!(client.match_part(&setup0, &[], &[]).is_err());
    let request = client.request_part(1, col(&column(&[]))).unwrap();
    client
        .receive_part(&server.respond_part(&request).unwrap())
        .unwrap();
    // Another sender session's setup.
    let stranger = StreamSender::new(opts(), 2).unwrap();
    assert!(client
        .match_part(&stranger.setup_part(0, &[]).unwrap(), &[], &[])
        .is_err());
    // Out of order, then in order, then replayed.
    assert!(client
        .match_part(&server.setup_part(1, &[]).unwrap(), &[], &[])
        .is_err());
    client.match_part(&setup0, &[], &[]).unwrap();
    assert!(client.match_part(&setup0, &[], &[]).is_err());
    assert!(StreamSender::new(opts(), 3).is_err());
    assert!(StreamReceiver::new(
        Options {
            mode: Mode::Labelled,
            ..opts()
        },
        2
    )
    .is_err());
}
