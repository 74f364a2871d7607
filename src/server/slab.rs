//! A slab: connections stored in a `Vec`, addressed by index, with freed slots reused.
//!
//! The index is the connection's `mio::Token`. A freed index may be handed to a new connection, so
//! anything that remembers a token for later (a timer, a hub subscription) must either be removed when
//! the connection closes or be checked against the connection's `serial` before it is used.

/// Values addressed by a reusable index.
#[derive(Debug)]
pub struct Slab<T> {
    slots: Vec<Option<T>>,
    free: Vec<usize>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Stores `value` and returns its index.
    pub fn insert(&mut self, value: T) -> usize {
        self.len += 1;
        // A freed index always names a slot of `slots` (the `Vec` never shrinks); were it ever out of
        // range, the value would still be stored, in a new slot.
        let freed_slot = self
            .free
            .pop()
            .and_then(|index| Some((index, self.slots.get_mut(index)?)));
        match freed_slot {
            Some((index, slot)) => {
                *slot = Some(value);
                index
            }
            None => {
                self.slots.push(Some(value));
                self.slots.len() - 1
            }
        }
    }

    /// Removes and returns the value at `index`, if any.
    pub fn remove(&mut self, index: usize) -> Option<T> {
        let value = self.slots.get_mut(index)?.take()?;
        self.free.push(index);
        self.len -= 1;
        Some(value)
    }

    /// The value at `index`.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.slots.get_mut(index)?.as_mut()
    }

    /// The value at `index`.
    pub fn get(&self, index: usize) -> Option<&T> {
        self.slots.get(index)?.as_ref()
    }

    /// Takes the value at `index` out for a while without freeing the index; put it back with
    /// [`Slab::restore`] or free the index with [`Slab::release`]. This lets the event loop hold one
    /// connection mutably while it also changes the rest of the server.
    pub fn take(&mut self, index: usize) -> Option<T> {
        self.slots.get_mut(index)?.take()
    }

    /// Puts back a value taken with [`Slab::take`].
    pub fn restore(&mut self, index: usize, value: T) {
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = Some(value);
        }
    }

    /// Frees an index whose value was taken with [`Slab::take`] and will not come back.
    pub fn release(&mut self, index: usize) {
        if matches!(self.slots.get(index), Some(None)) {
            self.free.push(index);
            self.len -= 1;
        }
    }

    /// How many values are stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the slab is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every stored index, in order.
    pub fn indices(&self) -> Vec<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| slot.as_ref().map(|_| index))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Slab;

    #[test]
    fn freed_slots_are_reused_and_counted() {
        let mut slab = Slab::default();
        let a = slab.insert("a");
        let b = slab.insert("b");
        assert_eq!((a, b, slab.len()), (0, 1, 2));
        assert_eq!(slab.remove(a), Some("a"));
        assert_eq!(slab.remove(a), None, "a slot is freed once");
        assert_eq!(slab.insert("c"), a, "the freed index is reused");
        assert_eq!(slab.get(a), Some(&"c"));
        assert_eq!(slab.indices(), vec![0, 1]);
        assert_eq!(slab.len(), 2);
    }

    #[test]
    fn a_taken_value_keeps_its_index_until_released() {
        let mut slab = Slab::default();
        let a = slab.insert(1);
        let taken = slab.take(a);
        assert_eq!(taken, Some(1));
        assert_eq!(slab.insert(2), 1, "a taken index is not handed out again");
        slab.restore(a, 10);
        assert_eq!(slab.get(a), Some(&10));
        slab.take(a);
        slab.release(a);
        assert_eq!(slab.len(), 1);
        assert_eq!(slab.insert(3), a, "a released index is reused");
    }
}
