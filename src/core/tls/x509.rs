//! Just enough DER to describe a certificate: its subject and issuer as
//! RFC 4514 text, its subjectAltName entries and its validity dates, for
//! messages and for the peer-certificate queries. Verification is webpki's
//! job; this reader only describes, and gives up (None) on anything odd.

use std::fmt::Write as _;

/// What polysock tells about one certificate.
pub(crate) struct Cert<'a> {
    /// The DER contents of the issuer and subject Names.
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// The contents of the subjectAltName extension's GeneralNames.
    san: Option<&'a [u8]>,
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const BOOLEAN: u8 = 0x01;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];

/// Reads one TLV from the front of `input`: its tag, its contents, and the
/// whole element.
fn next<'a>(input: &mut &'a [u8]) -> Option<(u8, &'a [u8], &'a [u8])> {
    let all = *input;
    let (&tag, rest) = all.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |l, &b| (l << 8) | usize::from(b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    let header = all.len() - rest.len();
    *input = &rest[len..];
    Some((tag, &rest[..len], &all[..header + len]))
}

fn expect<'a>(input: &mut &'a [u8], tag: u8) -> Option<&'a [u8]> {
    let (t, body, _) = next(input)?;
    (t == tag).then_some(body)
}

/// Parses the parts of a DER certificate polysock describes.
pub(crate) fn parse(der: &[u8]) -> Option<Cert<'_>> {
    let mut input = der;
    let mut cert = expect(&mut input, SEQUENCE)?;
    let mut tbs = expect(&mut cert, SEQUENCE)?;
    if tbs.first() == Some(&0xa0) {
        next(&mut tbs)?; // [0] version
    }
    next(&mut tbs)?; // serialNumber
    expect(&mut tbs, SEQUENCE)?; // signature algorithm
    let issuer = expect(&mut tbs, SEQUENCE)?;
    let mut validity = expect(&mut tbs, SEQUENCE)?;
    let not_before = time(&mut validity)?;
    let not_after = time(&mut validity)?;
    let subject = expect(&mut tbs, SEQUENCE)?;
    expect(&mut tbs, SEQUENCE)?; // subjectPublicKeyInfo
    let mut san = None;
    while let Some((tag, body, _)) = next(&mut tbs) {
        if tag != 0xa3 {
            continue; // [1], [2] unique ids
        }
        let mut wrapped = body;
        let mut exts = expect(&mut wrapped, SEQUENCE)?;
        while !exts.is_empty() {
            let mut ext = expect(&mut exts, SEQUENCE)?;
            let oid = expect(&mut ext, OID)?;
            if ext.first() == Some(&BOOLEAN) {
                next(&mut ext)?;
            }
            let mut value = expect(&mut ext, OCTET_STRING)?;
            if oid == SAN_OID {
                san = Some(expect(&mut value, SEQUENCE)?);
            }
        }
    }
    Some(Cert {
        issuer,
        subject,
        not_before,
        not_after,
        san,
    })
}

/// A UTCTime or GeneralizedTime ("...Z") as Unix seconds.
fn time(input: &mut &[u8]) -> Option<i64> {
    let (tag, body, _) = next(input)?;
    let text = std::str::from_utf8(body).ok()?.strip_suffix('Z')?;
    let num = |s: &str| s.parse::<i64>().ok();
    let (year, rest) = match tag {
        UTC_TIME if text.len() == 12 => {
            let yy = num(&text[..2])?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        GENERALIZED_TIME if text.len() == 14 => (num(&text[..4])?, &text[4..]),
        _ => return None,
    };
    let field = |i: usize| num(&rest[i..i + 2]);
    let days = days_from_civil(year, field(0)?, field(2)?);
    Some(days * 86400 + field(4)? * 3600 + field(6)? * 60 + field(8)?)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The date of a day number (the inverse of `days_from_civil`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// "2020-01-01" for a midnight, else "2020-01-01 12:30:00 UTC".
pub(crate) fn format_time(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(86400));
    let secs = unix.rem_euclid(86400);
    if secs == 0 {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

/// Short names RFC 4514 (and OpenSSL, for the last two) use.
const ATTRIBUTE_NAMES: &[(&[u8], &str)] = &[
    (&[0x55, 0x04, 0x03], "CN"),
    (&[0x55, 0x04, 0x06], "C"),
    (&[0x55, 0x04, 0x07], "L"),
    (&[0x55, 0x04, 0x08], "ST"),
    (&[0x55, 0x04, 0x09], "STREET"),
    (&[0x55, 0x04, 0x0a], "O"),
    (&[0x55, 0x04, 0x0b], "OU"),
    (
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
        "DC",
    ),
    (
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01],
        "UID",
    ),
    (&[0x55, 0x04, 0x05], "serialNumber"),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
        "emailAddress",
    ),
];

/// A Name as RFC 4514 text: "CN=a.test,O=Example" (the last RDN first,
/// special characters escaped, unknown attributes as OID=#hex).
pub(crate) fn name_text(mut name: &[u8]) -> String {
    let mut rdns = Vec::new();
    while !name.is_empty() {
        let Some(mut set) = expect(&mut name, SET) else {
            break;
        };
        let mut parts = Vec::new();
        while let Some(mut atv) = expect(&mut set, SEQUENCE) {
            let (Some(oid), Some((tag, value, whole))) = (expect(&mut atv, OID), next(&mut atv))
            else {
                break;
            };
            let key = ATTRIBUTE_NAMES
                .iter()
                .find(|(o, _)| *o == oid)
                .map_or_else(|| dotted(oid), |(_, n)| n.to_string());
            let value = match string_value(tag, value) {
                Some(text) => escape(&text),
                None => hex(whole),
            };
            parts.push(format!("{key}={value}"));
        }
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    rdns.join(",")
}

/// The text of a directory string, or None for other types.
fn string_value(tag: u8, v: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, PrintableString, IA5String, VisibleString
        0x0c | 0x13 | 0x16 | 0x1a => Some(String::from_utf8_lossy(v).into_owned()),
        // TeletexString: in practice Latin-1
        0x14 => Some(v.iter().map(|&b| char::from(b)).collect()),
        // BMPString: UCS-2 big-endian
        0x1e => Some(
            char::decode_utf16(
                v.chunks(2)
                    .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])),
            )
            .map(|c| c.unwrap_or('\u{fffd}'))
            .collect(),
        ),
        // UniversalString: UCS-4 big-endian
        0x1c => Some(
            v.chunks(4)
                .map(|c| {
                    let mut b = [0; 4];
                    b[..c.len()].copy_from_slice(c);
                    char::from_u32(u32::from_be_bytes(b)).unwrap_or('\u{fffd}')
                })
                .collect(),
        ),
        _ => None,
    }
}

fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => s.push('\\'),
            '#' if i == 0 => s.push('\\'),
            ' ' if i == 0 || i == last => s.push('\\'),
            '\0' => {
                s.push_str("\\00");
                continue;
            }
            _ => {}
        }
        s.push(c);
    }
    s
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::from("#");
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// An OID in dotted form: "1.2.840.113549.1.9.1".
fn dotted(oid: &[u8]) -> String {
    let mut arcs = Vec::new();
    let mut v: u64 = 0;
    for &b in oid {
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (v / 40).min(2);
                arcs.push(first);
                arcs.push(v - first * 40);
            } else {
                arcs.push(v);
            }
            v = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

impl Cert<'_> {
    /// The subjectAltName entries: "DNS:a.test", "IP:127.0.0.1",
    /// "email:x@a.test", "URI:https://a.test/", "DirName:CN=..."; others
    /// as "othername:<tag>".
    pub(crate) fn san(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut names = self.san.unwrap_or(&[]);
        while let Some((tag, v, _)) = next(&mut names) {
            let text = String::from_utf8_lossy(v);
            out.push(match tag {
                0x81 => format!("email:{text}"),
                0x82 => format!("DNS:{text}"),
                0x86 => format!("URI:{text}"),
                0x87 if v.len() == 4 => {
                    format!("IP:{}", std::net::Ipv4Addr::new(v[0], v[1], v[2], v[3]))
                }
                0x87 if v.len() == 16 => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(v);
                    format!("IP:{}", std::net::Ipv6Addr::from(a))
                }
                0xa4 => {
                    let mut inner = v;
                    match expect(&mut inner, SEQUENCE) {
                        Some(name) => format!("DirName:{}", name_text(name)),
                        None => "DirName:".to_string(),
                    }
                }
                t => format!("othername:{t:#04x}"),
            });
        }
        out
    }

    /// The DNS names and IP addresses the certificate is for, for messages:
    /// "a.test, 127.0.0.1" (its CN when it has no subjectAltName).
    pub(crate) fn hosts(&self) -> String {
        let san: Vec<String> = self
            .san()
            .into_iter()
            .filter_map(|e| {
                e.strip_prefix("DNS:")
                    .or_else(|| e.strip_prefix("IP:"))
                    .map(str::to_string)
            })
            .collect();
        if san.is_empty() {
            return name_text(self.subject);
        }
        san.join(", ")
    }

    pub(crate) fn self_signed(&self) -> bool {
        self.issuer == self.subject
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11017);
        for z in [-1000, 0, 11016, 18262, 20000, 60000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(format_time(1577836800), "2020-01-01");
        assert_eq!(format_time(1577836800 + 45296), "2020-01-01 12:34:56 UTC");
    }

    #[test]
    fn times_parse() {
        let utc = [
            0x17, 13, b'2', b'0', b'0', b'1', b'0', b'1', b'0', b'0', b'0', b'0', b'0', b'0', b'Z',
        ];
        assert_eq!(time(&mut &utc[..]), Some(1577836800));
        let generalized = b"\x18\x0f20500101000000Z";
        assert_eq!(time(&mut &generalized[..]), Some(2524608000));
        assert_eq!(time(&mut &b"\x17\x03abc"[..]), None);
    }

    #[test]
    fn names_escape_and_oids_print() {
        assert_eq!(escape("a,b"), "a\\,b");
        assert_eq!(escape(" x "), "\\ x\\ ");
        assert_eq!(escape("#1"), "\\#1");
        assert_eq!(
            dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]),
            "1.2.840.113549.1.9.1"
        );
        // SET { SEQ { OID CN, UTF8 "a.test" } }, SET { SEQ { OID O, PRINTABLE "X+Y" } }
        let name = [
            0x31, 0x0f, 0x30, 0x0d, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x06, b'a', b'.', b't',
            b'e', b's', b't', 0x31, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x13, 0x03,
            b'X', b'+', b'Y',
        ];
        assert_eq!(name_text(&name), "O=X\\+Y,CN=a.test");
    }

    #[test]
    fn truncated_input_is_refused() {
        assert!(parse(&[0x30, 0x82, 0x01]).is_none());
        assert!(parse(&[]).is_none());
        assert!(next(&mut &[0x30, 0x05, 0x01][..]).is_none());
    }
}
