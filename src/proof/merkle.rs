//! The Merkle tree hash of RFC 6962 (Certificate Transparency), section
//! 2.1, over the proof's entries: leaves and nodes are hashed with
//! different one-byte prefixes, so a leaf can never pass for a node.
//!
//! ```text
//! MTH({})      = SHA-256()
//! MTH({d0})    = SHA-256(0x00 || d0)
//! MTH(D[0:n])  = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
//!                where k is the largest power of two smaller than n
//! ```

use sha2::{Digest, Sha256};

/// A leaf's hash: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// An inner node's hash: SHA-256(0x01 || left || right).
pub fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The tree hash of leaves whose leaf hashes are `leaves`, in order.
pub fn root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = largest_power_of_two_below(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly smaller than `n` (n >= 2).
fn largest_power_of_two_below(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn empty_and_single_follow_rfc_6962() {
        assert_eq!(
            hex(&root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // RFC 6962 test vector: the leaf hash of the empty string.
        assert_eq!(
            hex(&leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn unbalanced_tree_splits_at_the_largest_power_of_two() {
        let l: Vec<[u8; 32]> = (0u8..5).map(|i| leaf_hash(&[i])).collect();
        let left = node_hash(&node_hash(&l[0], &l[1]), &node_hash(&l[2], &l[3]));
        assert_eq!(root(&l), node_hash(&left, &l[4]));
        let mut swapped = l.clone();
        swapped.swap(1, 2);
        assert_ne!(root(&l), root(&swapped));
        assert_ne!(root(&l), root(&l[..4]));
    }
}
