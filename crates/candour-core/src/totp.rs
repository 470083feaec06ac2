//! Time-based one-time passwords (RFC 6238) for authenticator apps, and recovery codes.
//!
//! Everything here is pure: random bytes and the current Unix time are passed in by the
//! caller, so this module never touches the clock or an RNG. The parameters are the ones
//! every authenticator app supports: HMAC-SHA1, 6 digits, 30-second steps.

use std::fmt;

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

type HmacSha1 = Hmac<Sha1>;

/// Length of a TOTP step, in seconds.
pub const STEP_SECONDS: i64 = 30;
/// Number of digits in a code.
pub const DIGITS: usize = 6;
/// Smallest secret accepted by [`TotpSecret::from_bytes`] (RFC 4226 requires 128 bits).
pub const MIN_SECRET_LEN: usize = 16;
/// Largest secret accepted by [`TotpSecret::from_bytes`] (the HMAC-SHA1 block size).
pub const MAX_SECRET_LEN: usize = 64;

/// HMAC-SHA1 block size; keys up to this length are zero-padded by HMAC itself.
const SHA1_BLOCK_LEN: usize = 64;

/// A shared TOTP secret. `Debug` never prints the bytes.
#[derive(Clone)]
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TotpSecret(<{} bytes redacted>)", self.0.len())
    }
}

impl TotpSecret {
    /// A new secret from 20 caller-supplied random bytes (160 bits, as RFC 4226 recommends).
    #[must_use]
    pub fn from_random(bytes: [u8; 20]) -> Self {
        Self(bytes.to_vec())
    }

    /// Reload a stored secret. Accepts 16..=64 bytes.
    #[must_use]
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        (MIN_SECRET_LEN..=MAX_SECRET_LEN)
            .contains(&bytes.len())
            .then_some(Self(bytes))
    }

    /// The raw secret, for storage.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32, upper case, no padding (the form authenticator apps expect).
    #[must_use]
    pub fn base32(&self) -> String {
        base32_encode(&self.0)
    }

    /// The secret from its base32 form (as [`Self::base32`] writes it); `None` when it is
    /// not base32 or not of an accepted length.
    pub fn from_base32(s: &str) -> Option<Self> {
        let mut bits = 0u32;
        let mut n = 0u32;
        let mut out = Vec::with_capacity(s.len() * 5 / 8);
        for c in s.bytes() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'2'..=b'7' => c - b'2' + 26,
                _ => return None,
            };
            bits = (bits << 5) | u32::from(v);
            n += 5;
            if n >= 8 {
                n -= 8;
                out.push(((bits >> n) & 0xff) as u8);
                bits &= (1 << n) - 1;
            }
        }
        Self::from_bytes(out)
    }

    /// [`Self::base32`] with a space every 4 characters, for manual entry.
    #[must_use]
    pub fn base32_grouped(&self) -> String {
        let plain = self.base32();
        let mut out = String::with_capacity(plain.len() + plain.len() / 4);
        for (i, c) in plain.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push(' ');
            }
            out.push(c);
        }
        out
    }

    /// The `otpauth://` provisioning URI, usually rendered as a QR code.
    #[must_use]
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let issuer = percent_encode(issuer);
        let account = percent_encode(account);
        format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            self.base32()
        )
    }
}

/// The TOTP step containing `unix_time` (floor division, so it is monotonic for all inputs).
#[must_use]
pub fn step_at(unix_time: i64) -> i64 {
    unix_time.div_euclid(STEP_SECONDS)
}

/// The 6-digit code for `unix_time`.
#[must_use]
pub fn code_at(secret: &TotpSecret, unix_time: i64) -> String {
    format_code(hotp(secret, step_at(unix_time)))
}

/// Check a submitted code against the current step and one step either side.
///
/// Spaces (any whitespace) in `submitted` are ignored; what remains must be exactly six
/// ASCII digits. Steps `<= last_used_step` are never accepted, so a code cannot be replayed.
/// Returns the matched step, which the caller must store as the new `last_used_step`.
#[must_use]
pub fn verify(
    secret: &TotpSecret,
    submitted: &str,
    unix_time: i64,
    last_used_step: Option<i64>,
) -> Option<i64> {
    let submitted = parse_code(submitted)?;
    let current = step_at(unix_time);
    let mut matched = None;
    // Check every candidate (no early exit); prefer the latest matching step so the stored
    // `last_used_step` blocks as much as possible.
    for delta in [-1i64, 0, 1] {
        let Some(step) = current.checked_add(delta) else {
            continue;
        };
        if step < 0 || last_used_step.is_some_and(|last| step <= last) {
            continue;
        }
        let expected = code_digits(hotp(secret, step));
        if crate::signer::same_secret(&expected, &submitted) {
            matched = Some(step);
        }
    }
    matched
}

/// HOTP (RFC 4226) value for a step, already reduced to `DIGITS` digits.
fn hotp(secret: &TotpSecret, step: i64) -> u32 {
    // Negative steps only arise for times before 1970; clamp them to step 0.
    let counter = u64::try_from(step).unwrap_or(0);
    // HMAC zero-pads keys shorter than the block size, so padding here is exactly
    // equivalent and makes key setup infallible. `TotpSecret` never exceeds 64 bytes.
    let mut key = [0u8; SHA1_BLOCK_LEN];
    for (dst, src) in key.iter_mut().zip(secret.0.iter()) {
        *dst = *src;
    }
    let mut mac = <HmacSha1 as Mac>::new(&key.into());
    mac.update(&counter.to_be_bytes());
    let hash: [u8; 20] = mac.finalize().into_bytes().into();
    // Dynamic truncation: offset <= 15, so offset + 3 <= 18 is always in bounds.
    let offset = usize::from(hash[19] & 0x0f);
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    binary % 1_000_000
}

fn format_code(value: u32) -> String {
    format!("{value:06}")
}

fn code_digits(value: u32) -> [u8; DIGITS] {
    let mut out = [0u8; DIGITS];
    let mut v = value;
    for d in out.iter_mut().rev() {
        // `v % 10` is < 10, so the narrowing is lossless.
        *d = b'0' + u8::try_from(v % 10).unwrap_or(0);
        v /= 10;
    }
    out
}

fn parse_code(input: &str) -> Option<[u8; DIGITS]> {
    let mut out = [0u8; DIGITS];
    let mut n = 0;
    for c in input.chars().filter(|c| !c.is_whitespace()) {
        if !c.is_ascii_digit() || n == DIGITS {
            return None;
        }
        out[n] = u8::try_from(c).ok()?;
        n += 1;
    }
    (n == DIGITS).then_some(out)
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32, upper case, without `=` padding.
fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &byte in data {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(
                BASE32_ALPHABET[((buffer >> bits) & 31) as usize],
            ));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize],
        ));
    }
    out
}

/// Everything but the RFC 3986 unreserved characters is percent-encoded.
const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encode everything except RFC 3986 unreserved characters.
fn percent_encode(input: &str) -> String {
    percent_encoding::utf8_percent_encode(input, NOT_UNRESERVED).to_string()
}

/// Recovery-code alphabet: lower case letters and digits without `0 o 1 l i`.
/// 31 symbols, so a 10-symbol code carries log2(31^10) ≈ 49.5 bits.
const RECOVERY_ALPHABET: &[u8; 31] = b"abcdefghjkmnpqrstuvwxyz23456789";
const RECOVERY_SYMBOLS: usize = 10;
const RECOVERY_GROUP: usize = 5;

/// A single-use recovery code, shown to the user once as `xxxxx-xxxxx`.
/// Store only [`RecoveryCode::hash`]. `Debug` never prints the code.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(<redacted>)")
    }
}

impl RecoveryCode {
    /// A new code from 10 caller-supplied random bytes. The 80 bits are read as one integer
    /// and written in base 31; the modulo bias is below 2^-30.
    #[must_use]
    pub fn from_random(bytes: [u8; 10]) -> Self {
        let mut wide = [0u8; 16];
        for (dst, src) in wide[16 - bytes.len()..].iter_mut().zip(bytes.iter()) {
            *dst = *src;
        }
        let mut n = u128::from_be_bytes(wide);
        let base = RECOVERY_ALPHABET.len() as u128;
        let mut symbols = [0u8; RECOVERY_SYMBOLS];
        for s in symbols.iter_mut().rev() {
            // `n % base` < 31, so the index is in bounds.
            *s = RECOVERY_ALPHABET[(n % base) as usize];
            n /= base;
        }
        Self(format_recovery(&symbols))
    }

    /// The code in display form, `xxxxx-xxxxx`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the normalised code; this is what should be stored.
    #[must_use]
    pub fn hash(&self) -> [u8; 32] {
        hash_normalised(&self.0)
    }
}

fn format_recovery(symbols: &[u8; RECOVERY_SYMBOLS]) -> String {
    let mut out = String::with_capacity(RECOVERY_SYMBOLS + 1);
    for (i, &s) in symbols.iter().enumerate() {
        if i == RECOVERY_GROUP {
            out.push('-');
        }
        out.push(char::from(s));
    }
    out
}

fn hash_normalised(normalised: &str) -> [u8; 32] {
    Sha256::digest(normalised.as_bytes()).into()
}

/// Normalise a typed recovery code to `xxxxx-xxxxx`: case-insensitive, whitespace and
/// hyphens ignored. Returns `None` for the wrong length or any character outside the
/// alphabet (including the excluded `0 o 1 l i`).
#[must_use]
pub fn normalise_recovery_code(input: &str) -> Option<String> {
    let mut symbols = [0u8; RECOVERY_SYMBOLS];
    let mut n = 0;
    for c in input.chars().filter(|c| !c.is_whitespace() && *c != '-') {
        let c = u8::try_from(c.to_ascii_lowercase()).ok()?;
        if !RECOVERY_ALPHABET.contains(&c) || n == RECOVERY_SYMBOLS {
            return None;
        }
        symbols[n] = c;
        n += 1;
    }
    (n == RECOVERY_SYMBOLS).then(|| format_recovery(&symbols))
}

/// Hash a typed recovery code; equal to [`RecoveryCode::hash`] for the same code.
#[must_use]
pub fn hash_recovery_input(input: &str) -> Option<[u8; 32]> {
    normalise_recovery_code(input).map(|n| hash_normalised(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_round_trips() {
        let secret = TotpSecret::from_random([0x5a; 20]);
        let back = TotpSecret::from_base32(&secret.base32()).unwrap();
        assert_eq!(back.as_bytes(), secret.as_bytes());
        assert!(TotpSecret::from_base32("not base32!").is_none());
        assert!(
            TotpSecret::from_base32("MZXW6YTBOI").is_none(),
            "too short to be a secret"
        );
    }

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap()
    }

    #[test]
    fn rfc6238_sha1_vectors() {
        let secret = rfc_secret();
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code_at(&secret, t), code, "t = {t}");
        }
    }

    #[test]
    fn base32_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(input.as_bytes()), expected);
        }
        let secret = rfc_secret();
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            secret.base32_grouped(),
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
        );
    }

    #[test]
    fn secret_lengths_and_debug() {
        assert!(TotpSecret::from_bytes(vec![0; 15]).is_none());
        assert!(TotpSecret::from_bytes(vec![0; 16]).is_some());
        assert!(TotpSecret::from_bytes(vec![0; 64]).is_some());
        assert!(TotpSecret::from_bytes(vec![0; 65]).is_none());
        let s = TotpSecret::from_random([0xab; 20]);
        assert_eq!(s.as_bytes(), &[0xab; 20]);
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("171") && !dbg.to_lowercase().contains("ab,"));
        assert_eq!(dbg, "TotpSecret(<20 bytes redacted>)");
    }

    #[test]
    fn verify_window() {
        let secret = rfc_secret();
        let t = 1_111_111_111;
        let step = step_at(t);
        for delta in [-1, 0, 1] {
            let code = code_at(&secret, t + delta * STEP_SECONDS);
            assert_eq!(verify(&secret, &code, t, None), Some(step + delta));
        }
        for delta in [-2, 2] {
            let code = code_at(&secret, t + delta * STEP_SECONDS);
            assert_eq!(verify(&secret, &code, t, None), None);
        }
    }

    #[test]
    fn verify_rejects_replay() {
        let secret = rfc_secret();
        let t = 1_111_111_111;
        let code = code_at(&secret, t);
        let step = verify(&secret, &code, t, None).unwrap();
        // Same step again.
        assert_eq!(verify(&secret, &code, t, Some(step)), None);
        // An earlier step after a later one was used.
        let earlier = code_at(&secret, t - STEP_SECONDS);
        assert_eq!(verify(&secret, &earlier, t, Some(step)), None);
        // A later step is still fine.
        let later = code_at(&secret, t + STEP_SECONDS);
        assert_eq!(verify(&secret, &later, t, Some(step)), Some(step + 1));
    }

    #[test]
    fn verify_input_format() {
        let secret = rfc_secret();
        let t = 59;
        assert_eq!(verify(&secret, "287082", t, None), Some(1));
        assert_eq!(verify(&secret, "287 082", t, None), Some(1));
        assert_eq!(verify(&secret, " 28 70 82 ", t, None), Some(1));
        assert_eq!(verify(&secret, "28708", t, None), None);
        assert_eq!(verify(&secret, "2870820", t, None), None);
        assert_eq!(verify(&secret, "28708a", t, None), None);
        assert_eq!(verify(&secret, "+28708", t, None), None);
        assert_eq!(verify(&secret, "２８７０８２", t, None), None);
        assert_eq!(verify(&secret, "", t, None), None);
        assert_eq!(verify(&secret, "000000", t, None), None);
    }

    #[test]
    fn extreme_times_do_not_panic() {
        let secret = rfc_secret();
        let _ = code_at(&secret, i64::MIN);
        let _ = code_at(&secret, i64::MAX);
        let _ = verify(&secret, "123456", i64::MIN, None);
        let _ = verify(&secret, "123456", i64::MAX, Some(i64::MAX));
    }

    #[test]
    fn otpauth_uri_encoding() {
        let secret = rfc_secret();
        assert_eq!(
            secret.otpauth_uri("Acme Corp", "jo+totp@example.com"),
            "otpauth://totp/Acme%20Corp:jo%2Btotp%40example.com\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Corp\
             &algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(percent_encode("a-b.c_d~e:é"), "a-b.c_d~e%3A%C3%A9");
    }

    #[test]
    fn recovery_code_shape() {
        for seed in [[0u8; 10], [0xff; 10], [0x5a; 10], *b"0123456789"] {
            let code = RecoveryCode::from_random(seed);
            let s = code.as_str();
            assert_eq!(s.len(), 11);
            assert_eq!(&s[5..6], "-");
            assert!(
                s.bytes()
                    .filter(|&b| b != b'-')
                    .all(|b| RECOVERY_ALPHABET.contains(&b))
            );
            assert!(!s.contains(['0', 'o', '1', 'l', 'i']));
            assert_eq!(format!("{code:?}"), "RecoveryCode(<redacted>)");
        }
        assert_eq!(RecoveryCode::from_random([0; 10]).as_str(), "aaaaa-aaaaa");
        assert_ne!(
            RecoveryCode::from_random([1; 10]),
            RecoveryCode::from_random([2; 10])
        );
    }

    #[test]
    fn recovery_code_normalisation_round_trip() {
        let code = RecoveryCode::from_random(*b"\x13\x37\xca\xfe\xba\xbe\x00\x42\x99\x07");
        let s = code.as_str().to_owned();
        let no_hyphen = s.replace('-', "");
        let loose = format!("  {} ", no_hyphen.to_uppercase());
        let spaced = format!("{} {}", &no_hyphen[..5], &no_hyphen[5..]);
        for typed in [s.as_str(), &no_hyphen, &loose, &spaced] {
            assert_eq!(normalise_recovery_code(typed).as_deref(), Some(s.as_str()));
            assert_eq!(hash_recovery_input(typed), Some(code.hash()));
        }
        assert_eq!(code.hash(), <[u8; 32]>::from(Sha256::digest(s.as_bytes())));
    }

    #[test]
    fn recovery_code_rejects_bad_input() {
        for bad in [
            "",
            "abcde-fghj",   // too short
            "abcde-fghjkm", // too long
            "abcde-fghj0",  // excluded 0
            "abcde-fghjo",  // excluded o
            "abcde-fghj1",  // excluded 1
            "abcde-fghjl",  // excluded l
            "abcde-fghji",  // excluded i
            "abcde_fghjk",  // wrong separator
            "abcdé-fghjk",  // non-ASCII
        ] {
            assert_eq!(normalise_recovery_code(bad), None, "{bad:?}");
            assert_eq!(hash_recovery_input(bad), None, "{bad:?}");
        }
        assert_eq!(
            normalise_recovery_code("ABCDE-FGHJK").as_deref(),
            Some("abcde-fghjk")
        );
    }
}
