//! The byte format of PSI messages: a versioned header, then a body of length-prefixed
//! fields. Every read is bounds-checked; a short message is an error naming what is missing.
//!
//! Header (40 bytes): `b"ZPSI"`, version (1), kind (1), mode (1), flags (1), the sender's
//! session id (16), the receiver's session id (16).
//!
//! Flags: [`FLAG_VERIFIABLE`], [`FLAG_USCC`], [`FLAG_RFC9497`] (the hash suite: RFC 9497
//! `ristretto255-SHA512` when set, zone-opt's older suite when clear, as earlier releases
//! wrote it).

use crate::error::{CoreError, CoreResult};

pub const MAGIC: &[u8; 4] = b"ZPSI";
pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 40;

/// Which message of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Setup = 1,
    Request = 2,
    Response = 3,
    /// Streaming: one bucket of the sender's table.
    SetupPart = 4,
    /// Streaming: one bucket of the receiver's blinded keys.
    RequestPart = 5,
    /// Streaming: the evaluations of one bucket.
    ResponsePart = 6,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Setup => "setup",
            Kind::Request => "request",
            Kind::Response => "response",
            Kind::SetupPart => "setup part",
            Kind::RequestPart => "request part",
            Kind::ResponsePart => "response part",
        }
    }
}

/// What the receiver learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Which of the receiver's keys are in the sender's set.
    Intersection = 1,
    /// Plus the sender's payload columns for matched rows.
    Labelled = 2,
    /// Only the number of common distinct keys.
    Cardinality = 3,
    /// Count and sum of a receiver column over the intersection.
    Sum = 4,
}

impl Mode {
    pub fn from_u8(v: u8) -> Option<Mode> {
        match v {
            1 => Some(Mode::Intersection),
            2 => Some(Mode::Labelled),
            3 => Some(Mode::Cardinality),
            4 => Some(Mode::Sum),
            _ => None,
        }
    }

    pub fn parse(name: &str) -> CoreResult<Mode> {
        match name {
            "intersection" => Ok(Mode::Intersection),
            "labelled" => Ok(Mode::Labelled),
            "cardinality" => Ok(Mode::Cardinality),
            "sum" => Ok(Mode::Sum),
            _ => Err(CoreError::invalid(
                "mode",
                None,
                "must be intersection, labelled, cardinality or sum",
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Intersection => "intersection",
            Mode::Labelled => "labelled",
            Mode::Cardinality => "cardinality",
            Mode::Sum => "sum",
        }
    }
}

pub const FLAG_VERIFIABLE: u8 = 1;
pub const FLAG_USCC: u8 = 2;
/// The session uses RFC 9497's `ristretto255-SHA512` suite (else zone-opt's older suite).
pub const FLAG_RFC9497: u8 = 4;

/// The decoded header of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub mode: Mode,
    pub flags: u8,
    pub sender_session: [u8; 16],
    pub receiver_session: [u8; 16],
}

impl Header {
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(self.kind as u8);
        out.push(self.mode as u8);
        out.push(self.flags);
        out.extend_from_slice(&self.sender_session);
        out.extend_from_slice(&self.receiver_session);
    }
}

/// A cursor over a received message.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// Parse the header and check it is a `kind` message of this version.
    pub fn open(data: &'a [u8], kind: Kind) -> CoreResult<(Header, Reader<'a>)> {
        let what = kind.name();
        if data.len() < HEADER_LEN {
            return Err(CoreError::invalid(
                what,
                None,
                format!(
                    "truncated: {} bytes, the header alone is {HEADER_LEN}",
                    data.len()
                ),
            ));
        }
        if &data[..4] != MAGIC {
            return Err(CoreError::invalid(what, None, "not a zone-opt PSI message"));
        }
        if data[4] != VERSION {
            return Err(CoreError::invalid(
                what,
                None,
                format!(
                    "protocol version {} is not supported (this is {VERSION})",
                    data[4]
                ),
            ));
        }
        if data[5] != kind as u8 {
            return Err(CoreError::invalid(
                what,
                None,
                format!("message kind {} is not a {what}", data[5]),
            ));
        }
        let mode =
            Mode::from_u8(data[6]).ok_or_else(|| CoreError::invalid(what, None, "unknown mode"))?;
        let mut sender_session = [0_u8; 16];
        sender_session.copy_from_slice(&data[8..24]);
        let mut receiver_session = [0_u8; 16];
        receiver_session.copy_from_slice(&data[24..40]);
        let header = Header {
            kind,
            mode,
            flags: data[7],
            sender_session,
            receiver_session,
        };
        Ok((
            header,
            Reader {
                data,
                pos: HEADER_LEN,
                what,
            },
        ))
    }

    pub fn bytes(&mut self, n: usize, field: &str) -> CoreResult<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(CoreError::invalid(
                self.what,
                None,
                format!(
                    "truncated: {field} needs {n} bytes at offset {}, {} left",
                    self.pos,
                    self.data.len() - self.pos
                ),
            )),
        }
    }

    pub fn u64(&mut self, field: &str) -> CoreResult<u64> {
        let b = self.bytes(8, field)?;
        let mut w = [0_u8; 8];
        w.copy_from_slice(b);
        Ok(u64::from_le_bytes(w))
    }

    pub fn u32(&mut self, field: &str) -> CoreResult<u32> {
        let b = self.bytes(4, field)?;
        let mut w = [0_u8; 4];
        w.copy_from_slice(b);
        Ok(u32::from_le_bytes(w))
    }

    pub fn u8(&mut self, field: &str) -> CoreResult<u8> {
        Ok(self.bytes(1, field)?[0])
    }

    /// A count of items of `item_len` bytes each, checked against the bytes left.
    pub fn count(&mut self, item_len: usize, field: &str) -> CoreResult<usize> {
        let n = self.u64(field)?;
        let left = (self.data.len() - self.pos) as u64;
        if item_len > 0 && n > left / item_len as u64 {
            return Err(CoreError::invalid(
                self.what,
                None,
                format!(
                    "truncated: {field} announces {n} items of {item_len} bytes, {left} bytes left"
                ),
            ));
        }
        Ok(n as usize)
    }

    /// Refuse trailing bytes.
    pub fn finish(self) -> CoreResult<()> {
        if self.pos != self.data.len() {
            return Err(CoreError::invalid(
                self.what,
                None,
                format!("{} unexpected trailing bytes", self.data.len() - self.pos),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_truncation_is_refused() {
        let h = Header {
            kind: Kind::Request,
            mode: Mode::Labelled,
            flags: FLAG_VERIFIABLE,
            sender_session: [1; 16],
            receiver_session: [2; 16],
        };
        let mut out = Vec::new();
        h.write(&mut out);
        out.extend_from_slice(&3_u64.to_le_bytes());
        let (got, mut r) = Reader::open(&out, Kind::Request).unwrap();
        assert_eq!(got, h);
        assert!(r.count(32, "points").is_err());
        assert!(Reader::open(&out, Kind::Setup).is_err());
        assert!(Reader::open(&out[..10], Kind::Request).is_err());
        let mut v2 = out.clone();
        v2[4] = 2;
        assert!(Reader::open(&v2, Kind::Request).is_err());
    }
}
