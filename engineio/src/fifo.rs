//! [`Fifo`]: the queue of a session's per-step work (commands, transmits, events,
//! WebSocket frames). These queues usually hold one item at a time — a round trip's
//! message, its answer — and are empty between steps; the single item lives inline, so
//! the common case allocates nothing, and a longer queue's buffer is freed once drained,
//! so an idle session keeps no slots.

use std::collections::VecDeque;

/// A first-in first-out queue: empty, one item inline, or a `VecDeque` for more.
#[derive(Debug, Default)]
pub(crate) enum Fifo<T> {
    /// Nothing queued, nothing allocated.
    #[default]
    Empty,
    /// One item, without allocation.
    One(T),
    /// Two items or more (never empty: it becomes `Empty` once drained).
    Many(VecDeque<T>),
}

impl<T> Fifo<T> {
    /// An empty queue.
    pub(crate) const fn new() -> Self {
        Fifo::Empty
    }

    /// Appends `value`.
    pub(crate) fn push_back(&mut self, value: T) {
        if let Fifo::Many(many) = self {
            many.push_back(value);
            return;
        }
        *self = match std::mem::take(self) {
            Fifo::One(first) => {
                let mut many = VecDeque::with_capacity(4);
                many.push_back(first);
                many.push_back(value);
                Fifo::Many(many)
            }
            _ => Fifo::One(value),
        };
    }

    /// Takes the front item; the buffer is freed when that empties the queue.
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        match self {
            Fifo::Empty => None,
            Fifo::One(_) => match std::mem::take(self) {
                Fifo::One(value) => Some(value),
                _ => None,
            },
            Fifo::Many(many) => {
                let front = many.pop_front();
                if many.is_empty() {
                    *self = Fifo::Empty;
                }
                front
            }
        }
    }

    /// Appends everything in `other`, in order.
    pub(crate) fn append(&mut self, mut other: Fifo<T>) {
        while let Some(value) = other.pop_front() {
            self.push_back(value);
        }
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Fifo::Empty)
    }

    /// How many items are queued.
    pub(crate) fn len(&self) -> usize {
        match self {
            Fifo::Empty => 0,
            Fifo::One(_) => 1,
            Fifo::Many(many) => many.len(),
        }
    }
}

impl<T> IntoIterator for Fifo<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter(self)
    }
}

/// The items of a [`Fifo`], front first.
pub(crate) struct IntoIter<T>(Fifo<T>);

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.0.pop_front()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.0.len(), Some(self.0.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::Fifo;

    #[test]
    fn keeps_order_through_every_shape_and_frees_when_drained() {
        let mut q = Fifo::new();
        assert!(q.is_empty());
        assert_eq!(q.pop_front(), None::<u32>);
        q.push_back(1);
        assert!(matches!(q, Fifo::One(1)));
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop_front(), Some(1));
        assert!(matches!(q, Fifo::Empty));
        for i in 0..10 {
            q.push_back(i);
        }
        assert_eq!(q.len(), 10);
        for i in 0..5 {
            assert_eq!(q.pop_front(), Some(i));
        }
        q.push_back(10);
        let mut rest = Vec::new();
        while let Some(v) = q.pop_front() {
            rest.push(v);
        }
        assert_eq!(rest, (5..=10).collect::<Vec<_>>());
        assert!(matches!(q, Fifo::Empty), "a drained queue holds no buffer");
        q.push_back(7);
        let mut other = Fifo::new();
        other.push_back(8);
        other.push_back(9);
        q.append(other);
        assert_eq!(q.into_iter().collect::<Vec<_>>(), vec![7, 8, 9]);
    }
}
