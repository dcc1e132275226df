//! A growable list stored in fixed-size chunks.
//!
//! The ledger keeps every sale of a raffle in memory and appends while the
//! sequencer holds it. A `Vec` that doubles copies everything it holds at
//! once (194 ms at half a million sales, measured with raffled's
//! allocator), stalling every buyer; this list allocates one more chunk
//! instead, and nothing already stored ever moves.

const CHUNK: usize = 1 << 16;

/// A list of `T`, appended to at the end, indexed and searched like a slice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkedVec<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        ChunkedVec {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> ChunkedVec<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, value: T) {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks.last_mut().expect("a chunk").push(value);
        self.len += 1;
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK).and_then(|c| c.get(i % CHUNK))
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks
            .get_mut(i / CHUNK)
            .and_then(|c| c.get_mut(i % CHUNK))
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flatten()
    }

    /// The index of the first element for which `pred` is false, the list
    /// being partitioned by `pred` (true first), as `slice::partition_point`.
    pub fn partition_point(&self, mut pred: impl FnMut(&T) -> bool) -> usize {
        let chunk = self
            .chunks
            .partition_point(|c| c.last().is_some_and(&mut pred));
        match self.chunks.get(chunk) {
            Some(c) => chunk * CHUNK + c.partition_point(pred),
            None => self.len,
        }
    }
}

impl<T> std::ops::Index<usize> for ChunkedVec<T> {
    type Output = T;

    fn index(&self, i: usize) -> &T {
        self.get(i).expect("index within the list")
    }
}

impl<T> std::ops::IndexMut<usize> for ChunkedVec<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        self.get_mut(i).expect("index within the list")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_vec_across_chunk_boundaries() {
        let mut c = ChunkedVec::new();
        let mut v = Vec::new();
        for i in 0..(3 * CHUNK + 17) as u64 {
            c.push(i * 2);
            v.push(i * 2);
        }
        assert_eq!(c.len(), v.len());
        assert!(c.iter().eq(v.iter()));
        for probe in [
            0,
            1,
            2,
            3,
            CHUNK as u64 * 2 - 2,
            CHUNK as u64 * 2,
            6 * CHUNK as u64 + 33,
            u64::MAX,
        ] {
            assert_eq!(
                c.partition_point(|&x| x < probe),
                v.partition_point(|&x| x < probe),
                "{probe}"
            );
        }
        assert_eq!(c[CHUNK + 5], v[CHUNK + 5]);
        c[CHUNK] = 1;
        assert_eq!(c.get(CHUNK), Some(&1));
        assert_eq!(c.get(v.len()), None);
        let empty: ChunkedVec<u64> = ChunkedVec::new();
        assert_eq!(empty.partition_point(|_| true), 0);
        assert!(empty.is_empty());
    }
}
