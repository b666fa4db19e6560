//! A small, fast, seeded and deterministic hash for flow keys: Bob Jenkins'
//! lookup3 ("jhash"), bit-for-bit the function of Linux's `<linux/jhash.h>`
//! on a little-endian CPU.
//!
//! Byte input is read as little-endian 32-bit words whatever the CPU, so every
//! director computes the same value for the same key and seed: the schedulers
//! that must agree across directors (`sh`, `maglev`) depend on that.
//!
//! Not a cryptographic hash: with a secret seed it is good enough to spread
//! flows over buckets, but it does not resist an attacker who knows the seed.

/// lookup3's initial value, `JHASH_INITVAL` in Linux.
pub const JHASH_INITVAL: u32 = 0xdead_beef;

#[inline(always)]
fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

#[inline(always)]
fn final_mix(mut a: u32, mut b: u32, mut c: u32) -> u32 {
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(24));
    c
}

/// Reads up to 4 bytes as a little-endian word, zero-padded.
#[inline(always)]
fn le_word(bytes: &[u8]) -> u32 {
    let mut w = [0u8; 4];
    for (dst, src) in w.iter_mut().zip(bytes.iter()) {
        *dst = *src;
    }
    u32::from_le_bytes(w)
}

/// Hashes a byte slice with `seed`: Linux's `jhash(key, length, initval)`
/// (lookup3's `hashlittle`).
pub fn jhash(key: &[u8], seed: u32) -> u32 {
    // The length only seeds the state; lookup3 truncates it to 32 bits too.
    let init = JHASH_INITVAL
        .wrapping_add(key.len() as u32)
        .wrapping_add(seed);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut rest = key;
    while rest.len() > 12 {
        let (block, tail) = rest.split_at(12);
        let (w0, w12) = block.split_at(4);
        let (w1, w2) = w12.split_at(4);
        a = a.wrapping_add(le_word(w0));
        b = b.wrapping_add(le_word(w1));
        c = c.wrapping_add(le_word(w2));
        mix(&mut a, &mut b, &mut c);
        rest = tail;
    }
    if rest.is_empty() {
        return c;
    }
    // 1..=12 bytes left: zero-padded words, as the switch in jhash() adds.
    let (w0, tail) = rest.split_at(rest.len().min(4));
    let (w1, w2) = tail.split_at(tail.len().min(4));
    a = a.wrapping_add(le_word(w0));
    b = b.wrapping_add(le_word(w1));
    c = c.wrapping_add(le_word(w2));
    final_mix(a, b, c)
}

/// Hashes a slice of 32-bit words with `seed`: Linux's `jhash2(k, length,
/// initval)` (lookup3's `hashword`). Faster than [`jhash`] when the key is
/// already in words; the words are hashed as numbers, so no byte order is
/// involved.
pub fn jhash2(key: &[u32], seed: u32) -> u32 {
    let init = JHASH_INITVAL
        .wrapping_add((key.len() as u32) << 2)
        .wrapping_add(seed);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut rest = key;
    while rest.len() > 3 {
        if let [k0, k1, k2, tail @ ..] = rest {
            a = a.wrapping_add(*k0);
            b = b.wrapping_add(*k1);
            c = c.wrapping_add(*k2);
            mix(&mut a, &mut b, &mut c);
            rest = tail;
        }
    }
    match rest {
        [k0, k1, k2] => {
            a = a.wrapping_add(*k0);
            b = b.wrapping_add(*k1);
            c = c.wrapping_add(*k2);
        }
        [k0, k1] => {
            a = a.wrapping_add(*k0);
            b = b.wrapping_add(*k1);
        }
        [k0] => a = a.wrapping_add(*k0),
        _ => return c,
    }
    final_mix(a, b, c)
}

/// Hashes three words with `seed`: Linux's `jhash_3words(a, b, c, initval)`.
/// The cheapest way to hash a small fixed key, e.g. `(addr, ports, proto)`.
pub fn jhash_3words(a: u32, b: u32, c: u32, seed: u32) -> u32 {
    let init = JHASH_INITVAL.wrapping_add(seed).wrapping_add(3 << 2);
    final_mix(
        a.wrapping_add(init),
        b.wrapping_add(init),
        c.wrapping_add(init),
    )
}

/// Hashes a flow's 5-tuple with `seed`. Addresses are raw network-order bytes
/// (4 or 16, but any length is accepted), ports are host-order numbers.
///
/// The result depends only on the arguments, never on the CPU, so directors
/// agree on it.
pub fn flow_hash(saddr: &[u8], sport: u16, daddr: &[u8], dport: u16, proto: u8, seed: u32) -> u32 {
    let h = jhash(saddr, seed);
    let h = jhash(daddr, h);
    jhash_3words(
        (u32::from(sport) << 16) | u32::from(dport),
        u32::from(proto),
        h,
        seed,
    )
}

/// Hashes a table key made of an address in 16-byte form (IPv4 in its
/// first 4 bytes, the rest zero) and two more words, for the module's own
/// tables (not for anything directors must agree on). An IPv4 address
/// costs one [`jhash_3words`], half of what the six words of an IPv6 key
/// cost; the two kinds of key simply hash differently.
#[inline]
pub fn key_hash(addr: &[u8; 16], x: u32, y: u32, seed: u32) -> u32 {
    let w = |i: usize| u32::from_ne_bytes([addr[i], addr[i + 1], addr[i + 2], addr[i + 3]]);
    if w(4) | w(8) | w(12) == 0 {
        jhash_3words(w(0), x, y, seed)
    } else {
        jhash2(&[w(0), w(4), w(8), w(12), x, y], seed)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn lookup3_reference_vectors() {
        // From lookup3.c's driver5(): hashlittle().
        assert_eq!(jhash(b"", 0), 0xdead_beef);
        assert_eq!(jhash(b"", 0xdead_beef), 0xbd5b_7dde);
        assert_eq!(jhash(b"Four score and seven years ago", 0), 0x1777_0551);
        assert_eq!(jhash(b"Four score and seven years ago", 1), 0xcd62_8161);
    }

    #[test]
    fn jhash2_matches_jhash_on_le_words() {
        // hashword() and hashlittle() agree on little-endian word input.
        let words = [0x0403_0201u32, 0x0807_0605, 0x0c0b_0a09, 0x100f_0e0d, 0x11];
        let mut bytes = std::vec::Vec::new();
        for w in words {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        for n in 0..=words.len() {
            for seed in [0u32, 1, 0x1234_5678] {
                assert_eq!(
                    jhash2(&words[..n], seed),
                    jhash(&bytes[..n * 4], seed),
                    "n={n}"
                );
            }
        }
        assert_eq!(jhash_3words(1, 2, 3, 7), jhash2(&[1, 2, 3], 7));
    }

    #[test]
    fn every_length_and_seed_differs() {
        let data: std::vec::Vec<u8> = (0u8..40).collect();
        let mut seen = std::collections::HashSet::new();
        for n in 0..=data.len() {
            for seed in 0..4 {
                assert!(seen.insert(jhash(&data[..n], seed)));
            }
        }
        let a = flow_hash(&[10, 0, 0, 1], 1234, &[10, 0, 0, 100], 80, 6, 9);
        assert_eq!(
            a,
            flow_hash(&[10, 0, 0, 1], 1234, &[10, 0, 0, 100], 80, 6, 9)
        );
        assert_ne!(
            a,
            flow_hash(&[10, 0, 0, 1], 1235, &[10, 0, 0, 100], 80, 6, 9)
        );
        assert_ne!(
            a,
            flow_hash(&[10, 0, 0, 1], 1234, &[10, 0, 0, 100], 80, 6, 10)
        );
    }

    #[test]
    fn key_hash_spreads_ipv4_and_ipv6_keys() {
        // Every IPv4 client of a /16 and port 1-8 over 2^12 chains: no
        // chain far above the mean of 128.
        let mut chains = std::vec![0u32; 4096];
        for c in 0..=u16::MAX {
            let [a, b] = c.to_be_bytes();
            let mut addr = [0u8; 16];
            addr[..4].copy_from_slice(&[10, 1, a, b]);
            for port in 1..=8 {
                chains[key_hash(&addr, 7, port, 99) as usize & 4095] += 1;
            }
        }
        assert!(chains.iter().all(|&n| n < 256), "max {}", chains.iter().max().unwrap());
        // IPv6 uses every word: addresses that differ only in the last
        // three words still spread.
        let mut seen = std::collections::HashSet::new();
        for i in 0u32..1000 {
            let mut addr = [0x20u8; 16];
            addr[4 + (i as usize % 12)] ^= (i / 12) as u8 + 1;
            seen.insert(key_hash(&addr, 7, 1, 99));
        }
        assert!(seen.len() > 990, "{}", seen.len());
        // The seed changes everything.
        let addr = [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_ne!(key_hash(&addr, 1, 2, 3), key_hash(&addr, 1, 2, 4));
    }
}
