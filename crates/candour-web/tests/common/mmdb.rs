//! A tiny writer of MaxMind DB files (format 2.0, as MaxMind documents it), enough for a
//! country database over IPv4 networks: the binary search tree with 24-bit records, the
//! 16-byte separator, a data section of `{"country": {"iso_code": …}}` maps, and the
//! metadata after its marker. Tests use it to give the server a real database to read.

use std::net::Ipv4Addr;

/// A record of the search tree while it is built.
#[derive(Clone, Copy)]
enum Record {
    Node(usize),
    Empty,
    /// An offset into the data section.
    Data(usize),
}

/// One data field, encoded: the control byte (with the extended type byte when the type is
/// above 7), the size, then `payload`.
fn field(kind: u8, size: usize, payload: &[u8], out: &mut Vec<u8>) {
    let (small, extra): (u8, Vec<u8>) = match size {
        0..=28 => (size as u8, vec![]),
        29..=284 => (29, vec![(size - 29) as u8]),
        285..=65_820 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
    };
    if kind <= 7 {
        out.push((kind << 5) | small);
    } else {
        out.push(small);
        out.push(kind - 7);
    }
    out.extend(extra);
    out.extend(payload);
}

fn string(s: &str, out: &mut Vec<u8>) {
    field(2, s.len(), s.as_bytes(), out);
}

/// An unsigned integer of type `kind` (5: uint16, 6: uint32, 9: uint64), in as few bytes as
/// it needs.
fn unsigned(kind: u8, v: u64, out: &mut Vec<u8>) {
    let bytes = v.to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(8);
    field(kind, 8 - first, &bytes[first..], out);
}

fn map_header(pairs: usize, out: &mut Vec<u8>) {
    field(7, pairs, &[], out);
}

/// A database placing each IPv4 network (address, prefix length, ISO country code) in its
/// country. Networks must not overlap.
pub fn country_database(networks: &[(Ipv4Addr, u8, &str)]) -> Vec<u8> {
    let mut data = Vec::new();
    let mut nodes: Vec<[Record; 2]> = vec![[Record::Empty; 2]];
    for (address, prefix, code) in networks {
        assert!((1..=32).contains(prefix), "a prefix of 1 to 32 bits");
        let offset = data.len();
        map_header(1, &mut data);
        string("country", &mut data);
        map_header(1, &mut data);
        string("iso_code", &mut data);
        string(code, &mut data);
        let bits = u32::from(*address);
        let mut node = 0;
        for depth in 0..usize::from(*prefix) {
            let branch = ((bits >> (31 - depth)) & 1) as usize;
            if depth + 1 == usize::from(*prefix) {
                nodes[node][branch] = Record::Data(offset);
                break;
            }
            node = match nodes[node][branch] {
                Record::Node(next) => next,
                Record::Empty => {
                    nodes.push([Record::Empty; 2]);
                    let next = nodes.len() - 1;
                    nodes[node][branch] = Record::Node(next);
                    next
                }
                Record::Data(_) => panic!("networks overlap"),
            };
        }
    }
    let count = nodes.len();
    let mut out = Vec::new();
    for pair in &nodes {
        for record in pair {
            let value = match *record {
                Record::Node(n) => n,
                Record::Empty => count,
                Record::Data(offset) => count + 16 + offset,
            };
            assert!(value < 1 << 24, "a 24-bit record");
            out.extend(&(value as u32).to_be_bytes()[1..]);
        }
    }
    out.extend([0u8; 16]);
    out.extend(&data);
    out.extend(b"\xAB\xCD\xEFMaxMind.com");
    map_header(9, &mut out);
    string("node_count", &mut out);
    unsigned(6, count as u64, &mut out);
    string("record_size", &mut out);
    unsigned(5, 24, &mut out);
    string("ip_version", &mut out);
    unsigned(5, 4, &mut out);
    string("database_type", &mut out);
    string("Candour-Test-Country", &mut out);
    string("languages", &mut out);
    field(11, 1, &[], &mut out);
    string("en", &mut out);
    string("binary_format_major_version", &mut out);
    unsigned(5, 2, &mut out);
    string("binary_format_minor_version", &mut out);
    unsigned(5, 0, &mut out);
    string("build_epoch", &mut out);
    unsigned(9, 1_767_225_600, &mut out);
    string("description", &mut out);
    map_header(1, &mut out);
    string("en", &mut out);
    string("Countries for Candour's tests", &mut out);
    out
}
