//! Random identifiers in Lucia v2's format.

/// Lucia v2's alphabet, in its order (`a`-`z`, then `1`-`9`, then `0`).
pub const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz1234567890";

/// Length of a generated user id.
pub const USER_ID_LENGTH: usize = 15;
/// Length of a generated session id.
pub const SESSION_ID_LENGTH: usize = 40;

/// Returns `length` characters drawn uniformly from [`ALPHABET`] with the operating system's
/// CSPRNG.
///
/// Bytes of 252 and above are rejected so that every character is exactly equally likely
/// (252 = 7 × 36); a plain `byte % 36` would favour the first 4 characters.
///
/// ```
/// let id = lucia::generate_random_string(15);
/// assert_eq!(id.len(), 15);
/// assert!(id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
/// ```
///
/// # Panics
///
/// If the operating system's random number generator fails, which leaves no safe way to
/// make a secret.
pub fn generate_random_string(length: usize) -> String {
    const LIMIT: u8 = 252;
    let mut out = String::with_capacity(length);
    // Each byte is accepted with probability 252/256, so one extra quarter covers almost
    // every call in a single read.
    let mut buffer = vec![0u8; length + length / 4 + 8];
    while out.len() < length {
        fill_random(&mut buffer);
        for &byte in &buffer {
            if out.len() == length {
                break;
            }
            if byte < LIMIT {
                out.push(ALPHABET[usize::from(byte % 36)] as char);
            }
        }
    }
    out
}

/// Fills `buffer` from the operating system's CSPRNG: every secret lucia makes (ids, tokens,
/// codes, TOTP secrets, nonces) comes from here.
///
/// # Panics
///
/// If the operating system's random number generator fails, which leaves no safe way to
/// make a secret (no input reaches this: only the OS).
pub(crate) fn fill_random(buffer: &mut [u8]) {
    getrandom::fill(buffer).expect("the operating system's random number generator failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_only_the_alphabet_and_the_requested_length() {
        for length in [0, 1, 15, 40, 300] {
            let id = generate_random_string(length);
            assert_eq!(id.len(), length);
            assert!(id.bytes().all(|b| ALPHABET.contains(&b)));
        }
    }

    #[test]
    fn every_character_appears_and_none_dominates() {
        // 36 000 draws: each character is expected 1 000 times; with rejection sampling the
        // spread stays well inside ±25 % (a modulo bias of 4/256 would not show here, but a
        // broken mapping that never produces some characters would).
        let sample = generate_random_string(36_000);
        let mut counts = [0usize; 36];
        for byte in sample.bytes() {
            let index = ALPHABET.iter().position(|&c| c == byte).unwrap();
            counts[index] += 1;
        }
        assert!(counts.iter().all(|&n| (750..1250).contains(&n)), "{counts:?}");
    }
}
