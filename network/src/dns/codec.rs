//! The few DNS messages the resolver reads and writes (RFC 1035): a query of one question,
//! and its answer of A records (after a CNAME, for a name that stands for another) or an
//! error code. Written by hand: the resolver needs the header, one question, A and CNAME
//! records, a few dozen lines, not a DNS library.

use std::net::Ipv4Addr;

/// Record type A (an IPv4 address).
pub const TYPE_A: u16 = 1;
/// Record type CNAME (the name stands for another).
pub const TYPE_CNAME: u16 = 5;
/// Class IN.
pub const CLASS_IN: u16 = 1;

/// Response codes.
pub const NOERROR: u8 = 0;
pub const FORMERR: u8 = 1;
pub const SERVFAIL: u8 = 2;
pub const NXDOMAIN: u8 = 3;
pub const NOTIMP: u8 = 4;
pub const REFUSED: u8 = 5;

/// A query's header fields and its (first) question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    /// The header's second 16 bits as sent (opcode, RD …).
    pub flags: u16,
    /// The name asked for, lower case, without the final dot.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    /// The question's bytes (name, type, class), echoed in the answer.
    question: Vec<u8>,
}

impl Query {
    /// The opcode (0: a standard query).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0x0f) as u8
    }
}

/// Reads a query; None for what is not one (a response, no question, a bad name).
pub fn parse(msg: &[u8]) -> Option<Query> {
    if msg.len() < 12 {
        return None;
    }
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let flags = u16::from_be_bytes([msg[2], msg[3]]);
    let qdcount = u16::from_be_bytes([msg[4], msg[5]]);
    if flags & 0x8000 != 0 || qdcount == 0 {
        return None;
    }
    let mut at = 12;
    let mut labels: Vec<String> = Vec::new();
    loop {
        let len = *msg.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        // Compression pointers don't belong in a question of a query.
        if len > 63 {
            return None;
        }
        let label = msg.get(at..at + len)?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        at += len;
        if at > 12 + 255 {
            return None;
        }
    }
    let qtype = u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]);
    let qclass = u16::from_be_bytes([*msg.get(at + 2)?, *msg.get(at + 3)?]);
    Some(Query {
        id,
        flags,
        name: labels.join("."),
        qtype,
        qclass,
        question: msg[12..at + 4].to_vec(),
    })
}

/// The answer to `q`: `addrs` as A records (TTL `ttl` seconds) with `rcode`.
pub fn answer(q: &Query, rcode: u8, addrs: &[Ipv4Addr], ttl: u32) -> Vec<u8> {
    let mut out = header(q, rcode, addrs.len());
    // The records' name: a pointer to the question's, at offset 12.
    push_a_records(&mut out, 0x0c, addrs, ttl);
    out
}

/// The answer to `q` for a name that stands for `target`: a CNAME record, then `addrs`
/// (the target's) as its A records.
pub fn answer_cname(q: &Query, rcode: u8, target: &str, addrs: &[Ipv4Addr], ttl: u32) -> Vec<u8> {
    let mut out = header(q, rcode, 1 + addrs.len());
    out.extend_from_slice(&[0xc0, 0x0c]);
    out.extend_from_slice(&TYPE_CNAME.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    let name = encode_name(target);
    out.extend_from_slice(&(name.len() as u16).to_be_bytes());
    // The A records' name: a pointer to the CNAME's data, the target.
    let at = out.len() as u16;
    out.extend_from_slice(&name);
    push_a_records(&mut out, at, addrs, ttl);
    out
}

/// A response's header and the question echoed, for `answers` records.
fn header(q: &Query, rcode: u8, answers: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + q.question.len() + answers * 16);
    out.extend_from_slice(&q.id.to_be_bytes());
    // QR, the query's opcode and RD, AA set, RA clear.
    let flags: u16 = 0x8000 | (q.flags & 0x7900) | 0x0400 | (rcode as u16 & 0x0f);
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(answers as u16).to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&q.question);
    out
}

/// A records of `addrs` whose name is the one at offset `name_at` of the message.
fn push_a_records(out: &mut Vec<u8>, name_at: u16, addrs: &[Ipv4Addr], ttl: u32) {
    for a in addrs {
        out.extend_from_slice(&(0xc000 | name_at).to_be_bytes());
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&a.octets());
    }
}

/// A name as labels (`db.example.test` → 2db7example4test0).
fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for l in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        let l = &l.as_bytes()[..l.len().min(63)];
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
    out
}

/// A query for `name` of `qtype` (recursion desired): what the resolver forwards, and
/// what tests send.
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&0x0100u16.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&encode_name(name));
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out
}

/// The rcode and A records of an answer (those of a forwarded query; tests).
pub fn read_answer(msg: &[u8]) -> Option<(u8, Vec<Ipv4Addr>)> {
    let q = parse_header_skip(msg)?;
    let rcode = msg[3] & 0x0f;
    let ancount = u16::from_be_bytes([msg[6], msg[7]]);
    let mut at = q;
    let mut out = Vec::new();
    for _ in 0..ancount {
        // Name: a pointer or labels.
        if *msg.get(at)? & 0xc0 == 0xc0 {
            at += 2;
        } else {
            while *msg.get(at)? != 0 {
                at += 1 + msg[at] as usize;
            }
            at += 1;
        }
        let rtype = u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]);
        let rdlen = u16::from_be_bytes([*msg.get(at + 8)?, *msg.get(at + 9)?]) as usize;
        at += 10;
        let data = msg.get(at..at + rdlen)?;
        if rtype == TYPE_A && rdlen == 4 {
            out.push(Ipv4Addr::new(data[0], data[1], data[2], data[3]));
        }
        at += rdlen;
    }
    Some((rcode, out))
}

/// The offset just past the question of a message.
fn parse_header_skip(msg: &[u8]) -> Option<usize> {
    if msg.len() < 12 {
        return None;
    }
    let mut at = 12;
    while *msg.get(at)? != 0 {
        at += 1 + msg[at] as usize;
    }
    Some(at + 5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_read_and_answered() {
        let q = parse(&query(0x1234, "Web.", TYPE_A)).unwrap();
        assert_eq!(
            (q.id, q.name.as_str(), q.qtype, q.qclass),
            (0x1234, "web", TYPE_A, CLASS_IN)
        );
        assert_eq!(q.opcode(), 0);
        let ips = [Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)];
        let a = answer(&q, NOERROR, &ips, 5);
        assert_eq!(&a[..2], &[0x12, 0x34]);
        assert_eq!(a[2] & 0x80, 0x80, "a response");
        assert_eq!(a[2] & 0x01, 0x01, "RD echoed");
        assert_eq!(read_answer(&a).unwrap(), (NOERROR, ips.to_vec()));
        let r = answer(&q, REFUSED, &[], 0);
        assert_eq!(read_answer(&r).unwrap(), (REFUSED, vec![]));
    }

    #[test]
    fn a_name_for_another_is_answered_with_a_cname_then_its_addresses() {
        let q = parse(&query(7, "ext", TYPE_A)).unwrap();
        let ips = [Ipv4Addr::new(192, 0, 2, 7)];
        let a = answer_cname(&q, NOERROR, "db.example.test", &ips, 5);
        assert_eq!(u16::from_be_bytes([a[6], a[7]]), 2, "two records");
        assert_eq!(read_answer(&a).unwrap(), (NOERROR, ips.to_vec()));
        let cname = b"\x02db\x07example\x04test\x00";
        assert!(a.windows(cname.len()).any(|w| w == cname));
    }

    #[test]
    fn garbage_is_not_a_query() {
        assert!(parse(&[0; 5]).is_none());
        let mut resp = query(1, "x", TYPE_A);
        resp[2] |= 0x80;
        assert!(parse(&resp).is_none());
        let mut bad = query(1, "x", TYPE_A);
        bad[12] = 0xc0;
        assert!(parse(&bad).is_none());
        assert!(parse(&query(1, "x", TYPE_A)[..14]).is_none());
    }
}
