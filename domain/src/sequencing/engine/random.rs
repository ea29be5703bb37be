//! The deterministic randomness behind selection and randomization (SR.1,
//! SR.2): every draw is a pure function of the registration's seed, the
//! activity and its attempt count, so replaying the recorded inputs chooses
//! the same children in the same order.

/// SplitMix64: small, fast and good enough to pick quiz questions.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator for one selection or randomization of one activity.
    pub(crate) fn for_activity(seed: u64, activity_id: &str, attempt: u32, purpose: u64) -> Self {
        let mut state = seed ^ fnv1a(activity_id.as_bytes());
        state = state.wrapping_add(u64::from(attempt).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        state ^= purpose.wrapping_mul(0xD1B5_4A32_D192_ED03);
        SplitMix64(state)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0), without modulo bias worth noting
    /// for the small bounds of a cluster's children.
    pub(crate) fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next_u64()) * bound as u128) >> 64) as usize
    }

    /// Fisher–Yates shuffle.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// FNV-1a, a stable hash (std's hasher is randomly keyed per process).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::SplitMix64;

    #[test]
    fn draws_depend_only_on_their_inputs() {
        let draw = |attempt| {
            let mut items = [0, 1, 2, 3, 4, 5, 6, 7];
            SplitMix64::for_activity(42, "quiz", attempt, 2).shuffle(&mut items);
            items
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
        let mut sorted = draw(3);
        sorted.sort();
        assert_eq!(sorted, [0, 1, 2, 3, 4, 5, 6, 7]);
    }
}
