// SPDX-License-Identifier: GPL-2.0

//! The kernel's timer queue (`lib/timerqueue.c`), for the engine's armed slots.
//!
//! A timer queue is a red-black tree ordered by expiry with a cached leftmost node: O(log n)
//! insert, O(1) amortised removal of any node, O(1) earliest. It is what hrtimers queue on, so
//! the engine's own queue costs what the hrtimer core's does, without a clock base lock or a
//! clock event reprogram per timer. Two additions, both for timers armed one after another:
//!
//! - The queue remembers its rightmost node. A timer expiring after every other (timeouts
//!   armed with one delay; a batch) is linked in there directly, O(1) amortised, instead of
//!   descending the tree.
//! - A timer expiring exactly when the rightmost does joins that node's *group* instead of
//!   the tree: a ring of nodes with one expiry, whose *head* is the one in the tree. Members
//!   come off a ring in O(1), without rebalancing, and [`TimerQueue::first`] hands them out
//!   before their head: a burst of timers due at one instant costs one tree removal, not one
//!   per timer.
//!
//! Equal expiries come out in the order they were queued: the tree puts an equal key to the
//! right of the nodes already there (`timerqueue_add`), and a group's head is its newest node
//! (a newcomer takes the head's place in the tree, O(1)), its ring read from the head on the
//! oldest first. Virtual time (`timebase.rs`) documents that order.
//!
//! The kernel crate has no binding for any of it; this file is the only place that calls it,
//! and everything else uses [`TimerQueue`] and [`QueueNode`]. What a queue holds is any type
//! with a [`QueueNode`] field, declared with [`impl_has_queue_node!`] (as `impl_has_hr_timer!`
//! declares an hrtimer field), so the queue hands back its owners, never raw nodes.

use core::{cell::UnsafeCell, marker::PhantomData};
use kernel::{bindings, prelude::*, types::Opaque};

/// A type that embeds a [`QueueNode`], so that a [`TimerQueue`] can queue it.
///
/// # Safety
///
/// [`HasQueueNode::raw_node`] returns the address of a [`QueueNode`] field of `*this`, and
/// [`HasQueueNode::from_node`] turns that address back into the address of the `Self` that
/// contains it. Implement it with [`impl_has_queue_node!`].
pub(crate) unsafe trait HasQueueNode {
    /// The address of the queue node of `*this`.
    ///
    /// # Safety
    ///
    /// `this` points at a valid `Self`.
    unsafe fn raw_node(this: *const Self) -> *const QueueNode;

    /// The address of the `Self` whose queue node is at `node`.
    ///
    /// # Safety
    ///
    /// `node` is the queue node field of a valid `Self`.
    unsafe fn from_node(node: *const QueueNode) -> *const Self;
}

/// Declares the [`QueueNode`] field of a type: `impl{J} HasQueueNode for Entry<J> { self.node }`.
macro_rules! impl_has_queue_node {
    (impl$({$($generics:tt)*})? HasQueueNode for $self:ty { self.$field:ident }) => {
        // SAFETY: `raw_node` returns the address of the field `$field`, a `QueueNode`, and
        // `from_node` inverts it with `container_of!` on the same field.
        unsafe impl$(<$($generics)*>)? $crate::engine::timerqueue::HasQueueNode for $self {
            #[inline]
            unsafe fn raw_node(this: *const Self) -> *const $crate::engine::timerqueue::QueueNode {
                // SAFETY: the caller passes a valid `Self`, so the field's address is in bounds.
                unsafe { ::core::ptr::addr_of!((*this).$field) }
            }

            #[inline]
            unsafe fn from_node(
                node: *const $crate::engine::timerqueue::QueueNode,
            ) -> *const Self {
                // SAFETY: the caller passes the `$field` of a valid `Self`.
                unsafe { ::kernel::container_of!(node.cast_mut(), $self, $field) }.cast_const()
            }
        }
    };
}
pub(crate) use impl_has_queue_node;

/// The parent link of a group member, which is not in the tree: a null parent with bit 1 set,
/// which the red-black code never writes (it keeps the colour in bit 0 of the link only).
const MEMBER: usize = 2;

/// A node's ring: the other nodes of its group (itself alone, or while not queued).
struct Ring {
    prev: *mut QueueNode,
    next: *mut QueueNode,
}

/// A node in a [`TimerQueue`] (`struct timerqueue_node`) and its group ring, embedded in what
/// it queues.
///
/// # Invariants
///
/// - The node was initialised by [`QueueNode::new`] and is pinned.
/// - Not queued: its parent link points at itself and its ring at itself.
/// - Queued as a group head: it is in the tree, and its ring holds its group's members; it is
///   the group's newest node, and its ring's `next` links run from the oldest member to it.
/// - Queued as a member: its parent link is [`MEMBER`], its expiry its head's, and it is in
///   its head's ring.
/// - While it is queued the tree and ring links point at it; they are changed through those
///   only by the queue's methods, under the caller's lock, which `Opaque` and `UnsafeCell`
///   allow.
#[pin_data]
#[repr(C)]
pub(crate) struct QueueNode {
    #[pin]
    node: Opaque<bindings::timerqueue_node>,
    ring: UnsafeCell<Ring>,
}

impl QueueNode {
    /// A node in no queue, with expiry 0.
    pub(crate) fn new() -> impl PinInit<Self> {
        // SAFETY: the closure initialises both fields in place: the C node as
        // `timerqueue_init` (RB_CLEAR_NODE) does, and the ring to the node itself, which is
        // pinned from here on.
        unsafe {
            pin_init::pin_init_from_closure(|this: *mut Self| {
                let n = core::ptr::addr_of_mut!((*this).node).cast::<bindings::timerqueue_node>();
                core::ptr::addr_of_mut!((*n).node.__rb_parent_color).write(n as usize);
                core::ptr::addr_of_mut!((*n).node.rb_right).write(core::ptr::null_mut());
                core::ptr::addr_of_mut!((*n).node.rb_left).write(core::ptr::null_mut());
                core::ptr::addr_of_mut!((*n).expires).write(0);
                // INVARIANT: not queued: parent link and ring point at the node itself.
                core::ptr::addr_of_mut!((*this).ring).write(UnsafeCell::new(Ring {
                    prev: this,
                    next: this,
                }));
                Ok(())
            })
        }
    }

    #[inline]
    fn c(&self) -> *mut bindings::timerqueue_node {
        self.node.get()
    }

    #[inline]
    fn ptr(&self) -> *mut QueueNode {
        core::ptr::from_ref(self).cast_mut()
    }

    /// The parent link of the C node (colour bit included).
    #[inline]
    fn parent_link(&self) -> usize {
        // SAFETY: by the type invariant the node is valid; the caller of every method below
        // serialises reads with the queue's writers.
        unsafe { core::ptr::addr_of!((*self.c()).node.__rb_parent_color).read() }
    }

    /// The expiry the node was last queued with (kept after it left the queue).
    ///
    /// The caller serialises this with the [`TimerQueue::add`] calls for the node (the
    /// engine lock), which are the only writes of the field.
    #[inline]
    pub(crate) fn expires(&self) -> i64 {
        // SAFETY: by the type invariant the node is valid; the caller serialises the read with
        // the only writer.
        unsafe { core::ptr::addr_of!((*self.c()).expires).read() }
    }

    /// Whether the node is in a queue (in the tree or in a group).
    ///
    /// The caller serialises this with the queue's users (the engine lock).
    #[inline]
    pub(crate) fn is_queued(&self) -> bool {
        self.parent_link() != self.c() as usize
    }
}

/// A timer queue (`struct timerqueue_head`) of `T`s and its rightmost node.
///
/// The tree does not point back at its head, so the head may move; its nodes may not.
///
/// # Invariants
///
/// - `last` is the rightmost node of the tree (null when it is empty), a group head.
/// - Every queued node is the queue node of a `T` ([`TimerQueue::add`] takes only those).
pub(crate) struct TimerQueue<T: HasQueueNode> {
    head: bindings::timerqueue_head,
    last: *mut QueueNode,
    _owner: PhantomData<*const T>,
}

// SAFETY: the head only holds pointers to the nodes of its owner, which uses it under one lock.
unsafe impl<T: HasQueueNode> Send for TimerQueue<T> {}

impl<T: HasQueueNode> TimerQueue<T> {
    /// An empty queue (`timerqueue_init_head`: `RB_ROOT_CACHED`).
    pub(crate) fn new() -> Self {
        Self {
            head: bindings::timerqueue_head {
                rb_root: bindings::rb_root_cached {
                    rb_root: bindings::rb_root {
                        rb_node: core::ptr::null_mut(),
                    },
                    rb_leftmost: core::ptr::null_mut(),
                },
            },
            // INVARIANT: the tree is empty.
            last: core::ptr::null_mut(),
            _owner: PhantomData,
        }
    }

    /// Queues `item` at `expires`; returns whether it is now the earliest.
    ///
    /// # Safety
    ///
    /// `item` is in no queue and stays valid until it is removed with [`TimerQueue::del`];
    /// every call on this queue or its nodes is serialised by the caller.
    #[inline]
    pub(crate) unsafe fn add(&mut self, item: &T, expires: i64) -> bool {
        // SAFETY: `item` is a valid `T`; its node lives as long as it does.
        // INVARIANT: the node queued below is a `T`'s.
        let node = unsafe { &*T::raw_node(item) };
        let n = node.c();
        let last = self.last;
        // SAFETY: by the type invariants `node` and `last` (when not null) are valid queue
        // nodes, `last` the rightmost group head; the caller guarantees `node` is in no queue
        // (its ring is itself) and serialises the tree's users.
        unsafe {
            core::ptr::addr_of_mut!((*n).expires).write(expires);
            if !last.is_null() {
                let ln = (*last).c();
                if expires == (*ln).expires {
                    // INVARIANT: the newest of the rightmost group: it takes its head's place
                    // in the tree, and the old head becomes a member, the newest one, just
                    // before it in the ring. The earliest expiry did not change.
                    let nn = core::ptr::addr_of_mut!((*n).node);
                    let lnn = core::ptr::addr_of_mut!((*ln).node);
                    bindings::rb_replace_node(lnn, nn, &mut self.head.rb_root.rb_root);
                    if self.head.rb_root.rb_leftmost == lnn {
                        self.head.rb_root.rb_leftmost = nn;
                    }
                    (*ln).node.__rb_parent_color = MEMBER;
                    let lr = (*last).ring.get();
                    let oldest = (*lr).next;
                    *node.ring.get() = Ring {
                        prev: last,
                        next: oldest,
                    };
                    (*(*oldest).ring.get()).prev = node.ptr();
                    (*lr).next = node.ptr();
                    self.last = node.ptr();
                    return false;
                }
                if expires > (*ln).expires {
                    // After everything queued: the right child of the rightmost node, which has
                    // none (`rb_link_node`), then the tree is rebalanced. Not the earliest.
                    let nn = core::ptr::addr_of_mut!((*n).node);
                    (*nn).__rb_parent_color = core::ptr::addr_of_mut!((*ln).node) as usize;
                    (*nn).rb_left = core::ptr::null_mut();
                    (*nn).rb_right = core::ptr::null_mut();
                    (*ln).node.rb_right = nn;
                    bindings::rb_insert_color(nn, &mut self.head.rb_root.rb_root);
                    // INVARIANT: `node` is now the rightmost node, a group head.
                    self.last = node.ptr();
                    return false;
                }
            }
            let first = bindings::timerqueue_add(&mut self.head, n);
            if last.is_null() {
                // INVARIANT: the tree was empty; `node` is its only node.
                self.last = node.ptr();
            }
            first
        }
    }

    /// Removes `item`; it is then in no queue.
    ///
    /// # Safety
    ///
    /// `item` is in this queue; every call on this queue or its nodes is serialised by the
    /// caller.
    #[inline]
    pub(crate) unsafe fn del(&mut self, item: &T) {
        // SAFETY: `item` is a valid `T`.
        let node = unsafe { &*T::raw_node(item) };
        let n = node.c();
        let me = node.ptr();
        // SAFETY: the caller guarantees `node` is in this queue and serialises its users, so
        // every node its ring and tree links reach is a valid queued node of this queue.
        unsafe {
            let ring = node.ring.get();
            let (prev, next) = ((*ring).prev, (*ring).next);
            if next == me {
                // A head alone, the usual case.
                if self.last == me {
                    // INVARIANT: the node before the rightmost becomes the rightmost (the
                    // `rb_node` is the first field of a `timerqueue_node`, the first field of a
                    // `QueueNode`: the same address).
                    self.last = bindings::rb_prev(core::ptr::addr_of!((*n).node)).cast();
                }
                // INVARIANT: `timerqueue_del` leaves the node unqueued (RB_CLEAR_NODE); its
                // ring already points at itself.
                bindings::timerqueue_del(&mut self.head, n);
                return;
            }
            if node.parent_link() == MEMBER {
                // A member: off the ring, the tree untouched.
                (*(*prev).ring.get()).next = next;
                (*(*next).ring.get()).prev = prev;
            } else {
                // A head with members: the newest member takes its place in the tree.
                let nn = core::ptr::addr_of_mut!((*n).node);
                let mn = core::ptr::addr_of_mut!((*(*prev).c()).node);
                bindings::rb_replace_node(nn, mn, &mut self.head.rb_root.rb_root);
                if self.head.rb_root.rb_leftmost == nn {
                    self.head.rb_root.rb_leftmost = mn;
                }
                (*(*prev).ring.get()).next = next;
                (*(*next).ring.get()).prev = prev;
                if self.last == me {
                    // INVARIANT: the new head is the rightmost node.
                    self.last = prev;
                }
            }
            // INVARIANT: not queued: parent link and ring point at the node itself.
            (*n).node.__rb_parent_color = n as usize;
            *ring = Ring { prev: me, next: me };
        }
    }

    /// An earliest item, if any: a member of the leftmost group before its head.
    ///
    /// The caller serialises the queue's users (`&self` already excludes [`TimerQueue::del`]).
    #[inline]
    pub(crate) fn first(&self) -> Option<&T> {
        let leftmost = self.head.rb_root.rb_leftmost;
        if leftmost.is_null() {
            return None;
        }
        // The `rb_node` is the first field of a `timerqueue_node`, the first field of a
        // `QueueNode`: the same address.
        let head = leftmost.cast::<QueueNode>();
        // SAFETY: the leftmost node is a queued group head of this queue; the caller
        // serialises the queue's users. By the type invariant a queued node is a `T`'s, valid
        // while queued (the contract of `add`), and it stays queued while `&self` is borrowed.
        unsafe {
            let next = (*(*head).ring.get()).next;
            Some(&*T::from_node(next))
        }
    }

    /// Calls `f` on every queued item, in expiry order (a head, then its members), for
    /// consistency checks. Returns the last group head seen.
    ///
    /// # Safety
    ///
    /// The caller serialises the queue's users.
    pub(crate) unsafe fn for_each(&self, mut f: impl FnMut(&T)) -> Option<*const QueueNode> {
        let mut head = self.head.rb_root.rb_leftmost.cast::<QueueNode>();
        let mut last = None;
        // SAFETY: the caller serialises the queue's users; every node reached through the tree
        // and the rings is a valid queued node.
        unsafe {
            while !head.is_null() {
                let h = &*head;
                f(&*T::from_node(h));
                let mut m = (*h.ring.get()).next;
                while m != head {
                    f(&*T::from_node(m));
                    m = (*(*m).ring.get()).next;
                }
                last = Some(head.cast_const());
                head = bindings::timerqueue_iterate_next(h.c()).cast();
            }
        }
        last
    }

    /// The rightmost group head, if any, for consistency checks.
    pub(crate) fn last(&self) -> Option<*const QueueNode> {
        (!self.last.is_null()).then(|| self.last.cast_const())
    }
}
